"""The app under real gunicorn, started the way the systemd unit starts it."""

import json
import re
import signal
import subprocess
import time

import pytest
import requests

from tests.app import helpers
from tests.app.helpers import GUNICORN_ARGV, REPO_ROOT, Gunicorn, process_env
from tests.app.pgserver import free_port
from tests.fakemeta import sign


@pytest.fixture
def server(env, tmp_path):
    gunicorn = Gunicorn({**env, "PORT": str(free_port())}, tmp_path / "gunicorn.out",
                        WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics")).start()
    yield gunicorn
    gunicorn.stop()
    assert gunicorn.process.returncode == 0


def http_requests_total(server, route: str) -> float:
    text = requests.get(server.url + "/metrics", timeout=5).text
    pattern = rf'^insta_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}} (\S+)$'
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_health_webhooks_and_logs_through_gunicorn(server, db, tmp_path):
    health = requests.get(server.url + "/health", timeout=5)
    assert health.status_code == 200 and list(health.json()) == ["status", "timestamp", "uptime", "environment"]

    body = json.dumps(helpers.changes_payload("1784", "via-gunicorn")).encode()
    stored = requests.post(server.url + "/webhook", data=body, timeout=5, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(helpers.APP_SECRET, body)})
    assert stored.status_code == 200 and stored.json() == {"received": 1, "stored": 1}
    assert db.execute("SELECT count(*) FROM webhook_events").fetchone()[0] == 1
    refused = requests.post(server.url + "/webhook", data=body, timeout=5,
                            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert refused.status_code == 403

    # JSON access lines on stdout (the journal) and in the combined log, with request ids.
    out_lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("path") == "/webhook" and line.get("status") == 403 for line in out_lines)
    combined = next((tmp_path / "logs").glob("combined-*.log")).read_text()
    assert '"path": "/webhook"' in combined and '"request_id"' in combined


def test_metrics_add_up_across_workers(server, tmp_path):
    before = http_requests_total(server, "/health")
    for _ in range(20):   # new connection each time: the kernel spreads them over the workers
        assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert http_requests_total(server, "/health") - before == 20
    assert list((tmp_path / "metrics").glob("*.db")), "PROMETHEUS_MULTIPROC_DIR is not used"


def test_rate_limit_keys_on_the_forwarded_client_ip(server):
    def attempt(client_ip):
        session = requests.Session()
        page = session.get(server.url + "/login", timeout=5)
        token = helpers.CSRF_PATTERN.search(page.text).group(1)
        return session.post(server.url + "/login", timeout=5, allow_redirects=False,
                            headers={"X-Forwarded-For": f"198.51.100.1, {client_ip}"},
                            data={"email": "x@example.com", "password": "wrong password", "csrf_token": token})
    # nginx appends the peer to X-Forwarded-For; the app trusts exactly that one hop.
    assert [attempt("192.0.2.10").status_code for _ in range(6)] == [400] * 5 + [429]
    assert attempt("192.0.2.11").status_code == 400


def test_config_error_stops_gunicorn_with_one_line(env):
    broken = {k: v for k, v in env.items() if k != "SESSION_SECRET"}
    result = subprocess.run(GUNICORN_ARGV, env=process_env({**broken, "PORT": str(free_port())}), cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert (result.stdout + result.stderr) == "config error: SESSION_SECRET is missing\n"


@pytest.mark.proves("S7.1-health-uptime-ms")
def test_health_uptime_is_the_services_in_every_worker_and_never_goes_back(server):
    """In milliseconds since gunicorn's master started, the same origin in every
    worker, and kept across a reload (SIGHUP: new workers, the same service)."""
    def uptimes(count: int) -> list[int]:  # new connection each time: the kernel spreads them over the workers
        return [requests.get(server.url + "/health", timeout=5).json()["uptime"] for _ in range(count)]

    before = uptimes(10)
    assert before == sorted(before), before
    time.sleep(1.5)
    server.process.send_signal(signal.SIGHUP)
    time.sleep(3)  # the new workers are up
    after = uptimes(10)
    assert after == sorted(after) and after[0] >= before[-1] + 4000, (before, after)
