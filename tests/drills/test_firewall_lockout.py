"""The firewall deploy refuses rules that would not admit its own SSH source."""

from tests.drills.conftest import deploy_with, ssh


def test_refuses_admin_ips_that_exclude_the_deployer(sandbox_inventory, sandbox_state, host):
    ruleset_before = host.check_output("nft list ruleset | sha256sum")
    proc = deploy_with(sandbox_inventory, "deploys/firewall.py", admin_ips=["192.0.2.10"])
    assert proc.returncode != 0
    assert f"this deploy connects from {sandbox_state['gateway']}, which admin_ips" in proc.stdout
    assert host.check_output("nft list ruleset | sha256sum") == ruleset_before
    assert ssh(sandbox_state, "root", sandbox_state["ssh_key"]).returncode == 0
