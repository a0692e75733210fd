"""The infrastructure document's section 7.3 monitoring commands, exactly as
printed (tests/document_commands.py: the sandbox's domain for production's),
from an admin address: the machine side of the sandbox network, as an
operator's machine. There, as anywhere, the domain resolves to the host (here
through /etc/hosts in the command's own mount namespace, as public DNS does
for production) and the certificate's root is trusted (CURL_CA_BUNDLE:
Pebble's root, as Let's Encrypt's is in every trust store). On the host itself
/metrics and /alerts answer 403: its own address is no admin's."""

import json
import os
import subprocess

import pytest

from tests.document_commands import as_run


@pytest.fixture
def run_as_printed(admin, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{admin.address} {admin.domain}\n")

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec bash -c "$1"',
             str(hosts), as_run(command, admin.domain)],
            env={**os.environ, "CURL_CA_BUNDLE": admin.pebble_root, "no_proxy": "*"},
            capture_output=True, text=True, timeout=30)
    return run


def test_health_answers_as_documented(run_as_printed):
    result = run_as_printed("curl https://insta.tiblings.com/health")
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert list(health) == ["status", "timestamp", "uptime", "environment"]
    assert health["status"] == "healthy" and health["environment"] == "production"
    assert isinstance(health["uptime"], int) and health["uptime"] > 0


def test_metrics_answer_the_snapshot(run_as_printed):
    result = run_as_printed("curl https://insta.tiblings.com/metrics")
    assert result.returncode == 0, result.stderr
    assert "# TYPE insta_http_requests_total counter" in result.stdout, result.stdout[:500]


def test_alerts_answer(run_as_printed):
    result = run_as_printed("curl https://insta.tiblings.com/alerts")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] in ("ok", "alerting"), result.stdout
