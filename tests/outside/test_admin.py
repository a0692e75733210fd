"""The host as an admin sees it: from the machine side of the sandbox network,
which is in admin_ips."""

import json
import re
import subprocess

import pytest

from tests.sandbox.harness import TEAM_MEMBER


def ssh(state, *options: str, user: str = "root", command: tuple[str, ...] = ("true",)) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                           "-o", f"UserKnownHostsFile={state['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
                           *options, f"{user}@{state['address']}", *command],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.proves("S10.1-ssh-admin-ips")
def test_ssh_with_key_works(sandbox_state):
    proc = ssh(sandbox_state, "-i", sandbox_state["ssh_key"])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.proves("S11.1-ssh-login")
def test_a_team_member_logs_in_with_their_key_and_has_sudo(sandbox_state):
    proc = ssh(sandbox_state, "-i", sandbox_state["team_key"], user=TEAM_MEMBER, command=("sudo", "-n", "id", "-un"))
    assert proc.returncode == 0 and proc.stdout.strip() == "root", proc.stderr


@pytest.mark.proves("S10.2-ssh-keys-only")
def test_ssh_with_password_is_refused(sandbox_state):
    # Offer nothing but passwords: the server must not even ask for one.
    proc = ssh(sandbox_state, "-o", "PubkeyAuthentication=no",
               "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr


@pytest.mark.proves("S7.2-metrics")
def test_metrics_answer_prometheus_text(admin):
    reply = admin.fetch(f"https://{admin.domain}/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE insta_http_requests_total counter" in reply.body
    assert re.search(r"^insta_database_up(\{[^}]*\})? 1(\.0)?$", reply.body, re.M), reply.body[:2000]


@pytest.mark.proves("S7.3-alerts")
def test_alerts_answer(admin):
    reply = admin.fetch(f"https://{admin.domain}/alerts")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    alerts = json.loads(reply.body)
    assert list(alerts) == ["status", "timestamp", "alerts"]
    assert alerts["status"] in ("ok", "alerting") and isinstance(alerts["alerts"], list)
