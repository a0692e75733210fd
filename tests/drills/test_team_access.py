"""Onboarding gives a person access in one deploy; offboarding (removing them
from group data `team`) takes it away in the next, open sessions included."""

import subprocess

import pytest

from tests.drills.conftest import deploy_with, ssh
from tests.pyinfra_run import run_deploy


@pytest.fixture
def keys(tmp_path) -> dict[str, str]:
    made = {}
    for person in ("drillalice", "drillbob"):
        key = tmp_path / person
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", person, "-f", str(key)], check=True)
        made[person] = str(key)
    return made


def public(key: str) -> str:
    with open(key + ".pub") as pub:
        return pub.read().strip()


@pytest.mark.proves("S11.1-ssh-login")
def test_onboard_then_offboard(sandbox_inventory, sandbox_state, host, keys):
    alice, bob = keys["drillalice"], keys["drillbob"]
    team = [{"name": "drillalice", "keys": [public(alice)], "sudo": True},
            {"name": "drillbob", "keys": [public(bob)], "sudo": False}]
    session = None
    try:
        onboard = deploy_with(sandbox_inventory, "deploys/ssh.py", team=team, team_keys_to_root=True)
        assert onboard.returncode == 0, onboard.stdout[-3000:]
        assert ssh(sandbox_state, "drillalice", alice, "sudo", "-n", "true").returncode == 0
        assert ssh(sandbox_state, "drillbob", bob).returncode == 0
        assert ssh(sandbox_state, "drillbob", bob, "sudo", "-n", "true").returncode != 0
        assert ssh(sandbox_state, "root", alice).returncode == 0  # team_keys_to_root
        assert ssh(sandbox_state, "drillbob", alice).returncode != 0  # nobody gets another's account

        session = subprocess.Popen(["ssh", "-i", bob, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                                    "-o", f"UserKnownHostsFile={sandbox_state['known_hosts']}",
                                    f"drillbob@{sandbox_state['address']}", "sleep", "120"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        host.run_test("for i in $(seq 50); do pgrep -u drillbob sleep && exit 0; sleep 0.2; done; exit 1")

        offboard = run_deploy(sandbox_inventory, "deploys/ssh.py")  # group data's own team: neither of them
        assert "Offboard drillalice" in offboard.stdout and "Offboard drillbob" in offboard.stdout
        assert session.wait(timeout=30) != 0, "bob's open session survived offboarding"
        for person, key in keys.items():
            denied = ssh(sandbox_state, person, key)
            assert denied.returncode == 255 and "Permission denied" in denied.stderr, person
            assert not host.user(person).exists
            assert not host.file(f"/home/{person}").exists
        assert ssh(sandbox_state, "root", alice).returncode == 255
        assert "drill" not in host.file("/root/.ssh/authorized_keys").content_string
    finally:
        if session and session.poll() is None:
            session.kill()
            session.wait()
        run_deploy(sandbox_inventory, "deploys/ssh.py")
