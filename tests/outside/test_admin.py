"""The host as an admin sees it: from the machine side of the sandbox network,
which is in admin_ips."""

import subprocess

import pytest


def ssh(state, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                           "-o", f"UserKnownHostsFile={state['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
                           *options, f"root@{state['address']}", "true"],
                          capture_output=True, text=True, timeout=30)


def test_ssh_with_key_works(sandbox_state):
    proc = ssh(sandbox_state, "-i", sandbox_state["ssh_key"])
    assert proc.returncode == 0, proc.stderr


def test_ssh_with_password_is_refused(sandbox_state):
    # Offer nothing but passwords: the server must not even ask for one.
    proc = ssh(sandbox_state, "-o", "PubkeyAuthentication=no",
               "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr


@pytest.mark.parametrize("path", ["/metrics", "/alerts"])
def test_admin_endpoints_answer(admin, path):
    # 502 until the app (data tier) is deployed: nginx let the request through to it.
    assert admin.status(f"https://{admin.domain}{path}") in (200, 502)
