"""A deploy interrupted halfway loses no data, and a plain re-run finishes
what it started: the migrations, the restart onto the new code, /health and
the timers; one more run then changes nothing.

The change is a real one: a copy of the repo with one app file edited, so the
deploy uploads code, runs the migrations and restarts the app. It is
interrupted (SIGINT, then SIGKILL) as soon as the new release lands on the
host: after the new code went up, before the switch and the restart. At the end the repo's own code is
deployed again, which puts the host back as the other drills expect it.
"""

import os
import signal
import subprocess
import threading
import uuid

from deploys.lib.app_runtime import APP
from tests.drills.conftest import deploy_with
from tests.host.conftest import app_curl, next_elapse
from tests.pyinfra_run import changed, deploy_argv, run_deploy

CHANGED_FILE = "app/wsgi.py"
GRACE = 2  # seconds between SIGINT and SIGKILL
ROWS = 50


def interrupted_site_deploy(inventory, repo, host, landed: str) -> subprocess.CompletedProcess:
    """Run deploys/site.py from repo and interrupt it once the shell test
    `landed` holds on the host: SIGINT, then SIGKILL if it still runs GRACE s later."""
    proc = subprocess.Popen(deploy_argv(inventory), cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout))
    reader.start()
    try:
        # Waits on the host, so the interruption follows the moment within a round trip.
        waited = host.run(f"timeout 600 sh -c 'until {landed}; do sleep 0.05; done'")
        if waited.rc == 0:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join()
    out = "".join(output)
    assert waited.rc == 0, f"the deploy never reached the point to interrupt ({landed}):\n{out[-4000:]}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def service_state(host, unit: str) -> tuple[str, float]:
    """(main pid, start time as a Unix timestamp with microseconds)."""
    pid = host.check_output("systemctl show -P MainPID %s", unit)
    started = host.check_output("date -u +%%s.%%N -d \"$(systemctl show --timestamp=us+utc "
                                "-P ExecMainStartTimestamp %s)\"", unit)
    return pid, float(started)


def test_interrupted_deploy_keeps_data_and_the_rerun_converges(host, target, psql, sandbox_inventory, repo_copy):
    data, app = target.data, APP
    code = f"{data['app_dir']}/current/{CHANGED_FILE}"
    token = f"drill-{uuid.uuid4().hex[:12]}"
    (repo_copy / CHANGED_FILE).write_text((repo_copy / CHANGED_FILE).read_text() + f"# {token}\n")
    rows = f"SELECT count(*), md5(string_agg(email, ',' ORDER BY email)) FROM users WHERE email LIKE '{token}-%'"
    psql(f"INSERT INTO users (email, password_hash) SELECT '{token}-' || n || '@example.test', 'drill' "
         f"FROM generate_series(1, {ROWS}) AS n")
    written = psql(rows)
    pid_before, _ = service_state(host, f"{app}.service")
    try:
        cut = interrupted_site_deploy(sandbox_inventory, repo_copy, host,
                                      f"grep -qs {token} {data['app_dir']}/releases/*/{CHANGED_FILE}")
        # pyinfra exits 0 on SIGINT ("Exiting upon user request!"): only the missing Results table tells.
        assert "--> Results:" not in cut.stdout, "the deploy finished before it could be interrupted"
        # Interrupted where it hurts: the new release is on the host, not yet current, the app not restarted.
        assert host.run("grep -q %s %s/releases/*/%s", token, data["app_dir"], CHANGED_FILE).rc == 0
        assert host.run("grep -q %s %s", token, code).rc == 1
        assert host.check_output("systemctl show -P MainPID %s", f"{app}.service") == pid_before

        # (a) nothing written before the interruption is lost.
        assert psql(rows) == written

        # (b) a plain re-run finishes the work: the switch to the new release, the restart onto it, /health, timers.
        run_deploy(sandbox_inventory, cwd=repo_copy)
        assert host.run("grep -q %s %s", token, code).rc == 0
        pid, started = service_state(host, f"{app}.service")
        assert pid != pid_before
        assert float(host.check_output("stat -c %%.6Y %s", code)) < started, "the app runs code older than its files"
        assert '"status":"healthy"' in host.check_output(f"{app_curl(data)} -f http://localhost/health")
        for job in ("token-refresh", "webhook-processor", "backup"):
            next_elapse(host, f"{app}-{job}.timer")
        assert psql(rows) == written

        # (c) and then it has converged.
        again = changed(run_deploy(sandbox_inventory, cwd=repo_copy))
        assert again == [], "operations changed on the run after the re-run:\n  " + "\n  ".join(again)
    finally:
        run_deploy(sandbox_inventory)  # the repo's own code again
        psql(f"DELETE FROM users WHERE email LIKE '{token}-%'")
    assert host.run("grep -q %s %s", token, code).rc == 1


def test_an_interrupted_go_live_is_finished_by_the_next_run(host, target, sandbox_inventory):
    """A checked config (deploys/lib/validated.py) whose deploy died after the
    accepted candidate was swapped in, before nginx reloaded: the file on disk
    is new, nginx still serves the old one, and the staging copy matches the
    live file. The re-run with the same input must still reload nginx (an
    owed action, deploys/lib/owed.py), not take the go-live for done."""
    site = f"/etc/nginx/sites-available/{APP}"
    staged = f"/var/lib/pyinfra-staged{site}"
    accepted = host.file(site).sha256sum
    domain = target.data["domain"]

    def answer_to_a_10k_post() -> str:
        return host.check_output(
            "head -c 10240 /dev/zero | curl -sk --noproxy '*' -o /dev/null -w '%{http_code}' "
            f"--resolve {domain}:443:127.0.0.1 --data-binary @- https://{domain}/")

    assert answer_to_a_10k_post() != "413"
    try:
        # What the go-live leaves if killed between the swap and the reload: the
        # site rendered with a 1k body limit is on disk, and nothing else changed.
        host.check_output(f"sed -E 's/client_max_body_size [^;]+;/client_max_body_size 1k;/' {site} > {staged} "
                          f"&& cp {staged} {site}")
        assert answer_to_a_10k_post() != "413", "nginx loaded the file before any reload"
        candidate = host.check_output("stat -c %%Y-%%s %s", staged)
        proc = deploy_with(sandbox_inventory, "deploys/nginx.py", client_max_body_size="1k")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert host.check_output("stat -c %%Y-%%s %s", staged) == candidate, \
            "the deploy rewrote the candidate: the drill's is not what it renders"
        assert answer_to_a_10k_post() == "413", "the re-run did not reload nginx onto the file"
    finally:
        run_deploy(sandbox_inventory, "deploys/nginx.py")
    assert host.file(site).sha256sum == accepted
    assert answer_to_a_10k_post() != "413"
