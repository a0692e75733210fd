"""No request is lost while the app changes: under a steady load through nginx
(tests/drills/load.py: /health, a signed-in page, signed webhooks), the
service is restarted, reloaded, moved to a new release by deploys/site.py
and rolled back by deploys/rollback.py. Every answer is a 2xx, no connection
fails, and every webhook acknowledged is stored."""

import json
import subprocess
import sys
import time
import uuid

import pytest

from deploys.lib.app_runtime import APP
from tests.host.conftest import unit_properties
from tests.inventory import REPO
from tests.pyinfra_run import run_deploy

# About 60 requests a second for the minute the changes take; webhooks (1 in 5)
# stay under nginx's webhook limit. Capped in count and time by load.py itself.
LOAD = {"workers": 4, "rate": 60, "min_requests": 2400, "max_requests": 8000, "max_seconds": 180}
MIN_REQUESTS = 2000  # the least this drill accepts as proof


def current_release(host, app_dir: str) -> str:
    return host.check_output("readlink %s/current", app_dir).rsplit("/", 1)[-1]


@pytest.mark.proves("S3.1-restart")
def test_no_request_lost_to_restart_reload_new_release_or_rollback(
        host, target, sandbox_inventory, sandbox_state, sandbox_secrets, repo_copy, psql):
    app, app_dir = APP, target.data["app_dir"]
    account = f"load-{uuid.uuid4().hex[:10]}"
    settings = {**LOAD, "address": sandbox_state["address"], "domain": sandbox_state["domain"],
                "pebble_root": sandbox_state["pebble_root"], "app_secret": sandbox_secrets["APP_SECRET"],
                "account": account}
    stylesheet = repo_copy / "app/web/static/app.css"
    stylesheet.write_text(stylesheet.read_text() + "\n/* the zero-downtime drill's release */\n")
    original = current_release(host, app_dir)
    main_pid = lambda: unit_properties(host, f"{app}.service", "MainPID")["MainPID"]  # noqa: E731
    pids, releases = [main_pid()], []

    load = subprocess.Popen(["ip", "netns", "exec", sandbox_state["outside_netns"], sys.executable,
                             "-m", "tests.drills.load", json.dumps(settings)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(5)
        host.check_output("systemctl restart %s.service", app)
        pids.append(main_pid())
        time.sleep(3)
        host.check_output("systemctl reload %s.service", app)
        time.sleep(3)
        run_deploy(sandbox_inventory, "deploys/site.py", cwd=repo_copy)
        releases.append(current_release(host, app_dir))
        pids.append(main_pid())
        time.sleep(3)
        run_deploy(sandbox_inventory, "deploys/rollback.py")
        releases.append(current_release(host, app_dir))
        pids.append(main_pid())
        time.sleep(3)
        out, err = load.communicate("", timeout=LOAD["max_seconds"] + 60)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0, err
    summary = json.loads(out)
    try:
        assert len(set(pids)) == 4, f"the service did not restart each time: main PIDs {pids}"
        assert releases[0] != original and releases[1] == original, (original, releases)
        assert summary["requests"] >= MIN_REQUESTS, summary["requests"]
        assert summary["failures"] == [], summary["failures"][:20]
        assert all(key.split()[1].startswith("2") for key in summary["statuses"]), summary["statuses"]
        acknowledged = summary["webhooks_acknowledged"]
        stored = psql(f"SELECT count(*) FROM webhook_events WHERE account_id = '{account}'")
        assert acknowledged and stored == [[str(len(acknowledged))]], (len(acknowledged), stored)
    finally:
        psql(f"DELETE FROM instagram_comments WHERE account_id = '{account}'")
        psql(f"DELETE FROM webhook_events WHERE account_id = '{account}'")
        psql("DELETE FROM users WHERE email LIKE 'load-%@example.test'")
    print(f"\nzero downtime: {summary['requests']} requests in {summary['seconds']} s, "
          f"{dict(summary['statuses'])}, 0 failed; {len(acknowledged)} webhooks stored")
