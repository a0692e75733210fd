"""`make plan` tells drift from no change, and never changes the host: on the
converged sandbox it exits 0 and prints one line (also once apt's lists are
due a refresh); a hand-edited nginx site, a
removed base package, a stopped timer and a changed .env each make it exit 2
and name the drift (files with their diff, the secret's value masked); a
deploy puts everything back and the plan is 0 again. A new release in the
repo is planned with the restart that follows it. Every plan run leaves the
host's files, packages and units as they were."""

import contextlib
import secrets
import subprocess
import sys
import time

from tests.drills.conftest import host_untouched
from tests.inventory import REPO
from tests.pyinfra_run import run_deploy

SITE = "/etc/nginx/sites-available/insta-connect-demo"
PACKAGE = "debsums"  # a base package (group_data/all.py) nothing else depends on
TIMER = "insta-connect-demo-webhook-processor.timer"


LOGIN_UNITS = ("user@", "user-runtime-dir@")  # root's user manager, up while any SSH session (a check's too) is


def packages_and_units(host) -> set[str]:
    """The installed packages, the state of every unit not started by a timer
    or a login (those come and go by themselves), and which units are enabled,
    disabled or masked (not the transient ones, such as each login's session)."""
    units = [line.split()[:4] for line in host.check_output(
        "systemctl list-units --all --plain --no-legend --type=service,socket,timer").splitlines()]
    timers = {unit.removesuffix(".timer") for unit, *_ in units if unit.endswith(".timer")}
    return {*host.check_output("dpkg-query -W -f '${Package} ${Version} ${Status}\\n'").splitlines(),
            *(" ".join(unit) for unit in units
              if unit[0].removesuffix(".service") not in timers and not unit[0].startswith(LOGIN_UNITS)),
            *host.check_output("systemctl list-unit-files --no-legend --plain --state=enabled,disabled,masked")
            .splitlines()}


@contextlib.contextmanager
def plan_only_reads(host, data: dict):
    before = packages_and_units(host)
    with host_untouched(host, data):
        yield
    after = packages_and_units(host)
    assert after == before, f"the plan changed packages or units: gone {before - after}, new {after - before}"


def plan(inventory, host, data: dict, repo=REPO) -> subprocess.CompletedProcess:
    """`make plan` of repo (default: this one) against inventory, which must leave the host as it was."""
    with plan_only_reads(host, data):
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "tools.plan", str(inventory)], cwd=repo, capture_output=True,
                              text=True, timeout=600)
        proc.seconds = time.monotonic() - started
    assert proc.returncode in (0, 2), f"the plan failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def test_plan_names_each_drift_and_changes_nothing(sandbox_inventory, host, target, sandbox_secrets):
    name, data = target.name, target.data
    # apt's lists older than the deploy's cache_time: a refresh is no change by itself.
    host.check_output("touch -d '2 days ago' /var/lib/apt/periodic/update-success-stamp")
    converged = plan(sandbox_inventory, host, data)
    assert (converged.returncode, converged.stdout) == (0, f"{name}: no changes.\n"), converged.stdout
    print(f"\nno-change plan: {converged.seconds:.1f} s")
    new_secret = secrets.token_urlsafe(24)
    try:
        host.check_output(f"echo '# drill: a hand edit' >> {SITE}")
        drifted = plan(sandbox_inventory, host, data)
        assert drifted.returncode == 2, drifted.stdout
        assert f"    ~ {SITE}  (" in drifted.stdout and "      -# drill: a hand edit" in drifted.stdout, drifted.stdout
        assert "nginx site insta-connect-demo: check with `nginx -t -q`, then go live" in drifted.stdout
        # The edited live file owes nginx its reload (deploys/lib/owed.py); its record is not listed.
        assert "nginx site insta-connect-demo: take it up" in drifted.stdout, drifted.stdout
        assert drifted.stdout.count("    ~ ") == 3, "more than the site, its go-live and reload:\n" + drifted.stdout

        host.check_output(f"DEBIAN_FRONTEND=noninteractive apt-get remove -y -q {PACKAGE}")
        drifted = plan(sandbox_inventory, host, data)
        assert drifted.returncode == 2 and f"install {PACKAGE}\n" in drifted.stdout, drifted.stdout

        host.check_output(f"systemctl stop {TIMER}")
        drifted = plan(sandbox_inventory, host, data)
        assert drifted.returncode == 2 and f"systemctl start {TIMER}\n" in drifted.stdout, drifted.stdout

        env = f"{data['app_dir']}/.env"
        host.check_output(f"sed -i 's/^SESSION_SECRET=.*/SESSION_SECRET={new_secret}/' {env}")
        drifted = plan(sandbox_inventory, host, data)
        assert drifted.returncode == 2, drifted.stdout
        assert f"    ~ {env}  (" in drifted.stdout
        assert "      -SESSION_SECRET=********  (the host's value)" in drifted.stdout, drifted.stdout
        assert "      +SESSION_SECRET=********  (the new value)" in drifted.stdout
        for value in (new_secret, sandbox_secrets["SESSION_SECRET"]):
            assert value not in drifted.stdout + drifted.stderr, "the plan printed a secret"
        # The restart the changed .env owes is a change; the check after it only follows from it.
        follows = drifted.stdout.split("Would follow from the changes above", 1)
        assert "systemctl restart insta-connect-demo.service" in follows[0], drifted.stdout
        assert len(follows) == 2 and "answers /health after the (re)start" in follows[1], drifted.stdout
        # Each drift is still named with the others.
        assert all(evidence in drifted.stdout for evidence in ("      -# drill: a hand edit", f"install {PACKAGE}\n",
                                                               f"systemctl start {TIMER}\n"))
    finally:
        run_deploy(sandbox_inventory)
    again = plan(sandbox_inventory, host, data)
    assert (again.returncode, again.stdout) == (0, f"{name}: no changes.\n"), again.stdout


def test_plan_of_a_new_release_lists_the_restart_that_follows(sandbox_inventory, host, target, repo_copy):
    """A change to app/ in the repo: its upload, migrations and switch are changes, and the
    service's restart (owed once `current` moves) follows from them."""
    (repo_copy / "app/__init__.py").write_text((repo_copy / "app/__init__.py").read_text() + "# a new release\n")
    proc = plan(sandbox_inventory, host, target.data, repo=repo_copy)
    assert proc.returncode == 2, proc.stdout
    changes, _, follows = proc.stdout.partition("Would follow from the changes above")
    for step in ("Upload release", "Run the database migrations with release", "Make release"):
        assert step in changes, proc.stdout
    assert "systemctl restart insta-connect-demo.service" in follows, proc.stdout
