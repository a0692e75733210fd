"""Webhooks posted while the app restarts and while PostgreSQL restarts are
all stored (none lost), and one run of the processor drains them."""

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from deploys.lib.app_runtime import APP
from tests.sandbox.harness import Sandbox

SENDER = Path(__file__).with_name("webhook_sender.py")
COUNT, INTERVAL = 120, 0.1  # about 12 s of steady deliveries, bounded
GIVE_UP = 60  # seconds a delivery is retried before it counts as lost


@pytest.mark.proves("S3.1-restart", "S3.3-webhook-processor-works")
def test_webhooks_survive_app_and_postgres_restarts(host, target, psql, sandbox_state, sandbox_secrets):
    app = APP
    account = f"drill-{uuid.uuid4().hex[:10]}"
    settings = (target.data["app_socket"], sandbox_secrets["APP_SECRET"], account,
                COUNT, INTERVAL, GIVE_UP)
    script = f"SETTINGS = {settings!r}\n" + SENDER.read_text()
    sender = subprocess.Popen(Sandbox(sandbox_state["name"]).ssh_argv(sandbox_state, "python3", "-"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sender.stdin.write(script)
        sender.stdin.close()
        for unit in (f"{app}.service", "postgresql.service", f"{app}.service"):
            time.sleep(3)
            host.check_output("systemctl restart %s", unit)
        sender.wait(timeout=COUNT * INTERVAL + GIVE_UP * 2)
        out, err = sender.stdout.read(), sender.stderr.read()
        summary = json.loads(out)
        assert summary["failed"] == 0 and summary["acknowledged"] == COUNT, (summary, err)
        assert summary["retries"] > 0, "no delivery met a restart: the drill proved nothing"

        def count(status_clause: str) -> int:
            return int(psql(f"SELECT count(*) FROM webhook_events WHERE account_id = '{account}' "
                            f"{status_clause}")[0][0])
        assert count("") == COUNT, "acknowledged webhooks are missing from the queue"
        host.check_output("systemctl start %s-webhook-processor.service", app)
        assert count("AND status <> 'done'") == 0
        assert psql(f"SELECT count(*) FROM instagram_comments WHERE account_id = '{account}'") == [[str(COUNT)]]
    finally:
        if sender.poll() is None:
            sender.kill()
        psql(f"DELETE FROM instagram_comments WHERE account_id = '{account}'")
        psql(f"DELETE FROM webhook_events WHERE account_id = '{account}'")
