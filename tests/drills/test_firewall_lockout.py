"""The firewall deploy refuses rules that would not admit its own SSH source."""

from tests.drills.conftest import deploy_with, ssh

UFW_STATE = "(ufw status verbose; ufw show added) | sha256sum"


def test_refuses_admin_ips_that_exclude_the_deployer(sandbox_inventory, sandbox_state, host):
    before = host.check_output(UFW_STATE)
    proc = deploy_with(sandbox_inventory, "deploys/firewall.py", admin_ips=["192.0.2.10"])
    assert proc.returncode != 0
    assert f"this deploy connects from {sandbox_state['gateway']}, which admin_ips" in proc.stdout
    assert host.check_output(UFW_STATE) == before
    assert ssh(sandbox_state, "root", sandbox_state["ssh_key"]).returncode == 0
