"""Run every test tier in order against fresh sandboxes, one per Debian
release, always tear them down, and fail on any tier that failed or did not run.
At the end, report what the tiers proved of the infrastructure document.

    python -m tests.tiers 3.10 3.12 3.13   # what `make test` runs: the app's tier also on these Pythons
"""

import os
import shutil
import subprocess
import sys
import time

from tests import statements
from tests.inventory import REPO
from tests.pyinfra_run import deploy_argv
from tests.sandbox.harness import state_dir
from tests.sandbox.rootfs import RELEASES

PYTHON = sys.executable
DOWN = [PYTHON, "-m", "tests.sandbox", "down"]
FIRST_RELEASE = RELEASES[0]  # every tier, drills included; the others: deploy, host, outside and a no-change run
# Each pytest tier records what its tests proved here; the run reports them together at its end.
STATEMENT_RESULTS = REPO / "reports/statements-tiers"


def pytest_argv(results: str, *args: str, python: str = PYTHON) -> list[str]:
    return [python, "-m", "pytest", "-p", "no:cacheprovider",
            f"--statements-results={STATEMENT_RESULTS}/{results}.json", *args]


def down_title(release: str) -> str:
    return f"[{release}] sandbox down, nothing left behind"


def release_tiers(release: str) -> list[tuple[str, list[str]]]:
    """The tiers that need release's sandbox, ending with its teardown."""
    inventory = str(state_dir(release) / "inventory.py")
    tiers = [
        ("sandbox up", [PYTHON, "-m", "tests.sandbox", "up"]),
        ("first deploy of deploys/site.py", deploy_argv(inventory)),
        ("host checks (read-only)",
         pytest_argv(f"{release}-host", "-m", "read_only_host_check", "tests/host", f"--inventory={inventory}")),
        ("outside probes", pytest_argv(f"{release}-outside", "-m", "outside", "tests/outside")),
    ]
    if release == FIRST_RELEASE:
        tiers += [
            # Before the other drills, so that they (the second, no-change run included) run on the restored host.
            ("disaster recovery drill (destroys, rebuilds and restores the sandbox)",
             [PYTHON, "-m", "tests.drills.disaster_recovery"]),
            ("drills (destructive, sandbox only)", pytest_argv(f"{release}-drills", "-m", "drill", "tests/drills")),
        ]
    else:  # the drills' own no-change run (it changes nothing itself)
        tiers += [("second deploy of deploys/site.py changes nothing",
                   pytest_argv(f"{release}-idempotency", "-m", "drill", "tests/drills/test_idempotency.py"))]
    # Down before the next release's up: one sandbox at a time on the machine.
    return [(f"[{release}] {title}", argv) for title, argv in tiers] + [(down_title(release), DOWN)]


def tiers(compat_pythons: list[str]) -> list[tuple[str, str | None, list[str]]]:
    """(title, the sandbox's release or None, argv). compat_pythons: the other Pythons the app
    runs on, each with its venv (`make compat-venvs`)."""
    return [
        ("fast (app and deploy logic, no sandbox)", None,
         pytest_argv("fast", "-m", "fast", "tests/app", "tests/deploys")),
        *((f"fast, the app on Python {version}", None,
           pytest_argv(f"fast-py{version}", "-m", "fast", "tests/app",
                       python=str(REPO / f".venv-py{version}/bin/python")))
          for version in compat_pythons),
        *((title, release, argv) for release in RELEASES for title, argv in release_tiers(release)),
    ]


def run(title: str, release: str | None, argv: list[str]) -> tuple[int, str]:
    print(f"\n===== tier: {title} =====\n$ {' '.join(argv)}", flush=True)
    env = {**os.environ, "NO_SKIPS": "1", **({"SANDBOX_RELEASE": release} if release else {})}
    started = time.monotonic()
    code = subprocess.run(argv, cwd=REPO, env=env).returncode
    # pytest exits 5 when it collected nothing: a tier that did not run.
    outcome = "passed" if code == 0 else ("did not run (no tests)" if code == 5 else f"failed (exit {code})")
    return code, f"{outcome} in {time.monotonic() - started:.0f}s"


def main(compat_pythons: list[str]) -> int:
    planned = tiers(compat_pythons)
    shutil.rmtree(STATEMENT_RESULTS, ignore_errors=True)  # an earlier run's records are not this run's
    results = {}
    try:
        for title, release, argv in planned:
            code, results[title] = run(title, release, argv)
            if code != 0:
                break
    finally:
        # Every release's down runs, once: down fails, naming them, if it left anything behind.
        for release in RELEASES:
            if down_title(release) not in results:
                results[down_title(release)] = run(down_title(release), release, DOWN)[1]
    print(statements.write_report(statements.read_results(sorted(STATEMENT_RESULTS.glob("*.json")))))
    print("\n===== tiers =====")
    for title, _, _ in planned:
        print(f"  {title}: {results.get(title, 'did not run (an earlier tier failed)')}")
    passed = sum(outcome.startswith("passed") for outcome in results.values())
    print(f"tiers: {passed} passed, {len(planned) - passed} failed", flush=True)
    return 0 if passed == len(planned) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
