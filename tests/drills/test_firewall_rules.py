"""The firewall deploy converges ufw on the wanted rules: an address added to
admin_ips gets SSH in one deploy, and loses it once removed; a rule added by
hand is deleted."""

from tests.drills.conftest import deploy_with, ssh
from tests.pyinfra_run import run_deploy


def added(host) -> list[str]:
    return host.check_output("ufw show added").splitlines()[1:]  # below its heading


def test_admin_ips_and_stray_rules_converge(sandbox_inventory, sandbox_state, host):
    extra = "192.0.2.10"
    host.check_output("ufw allow 3000/tcp")  # a hand edit
    proc = deploy_with(sandbox_inventory, "deploys/firewall.py", admin_ips=[sandbox_state["gateway"], extra])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"ufw allow from {extra} to any port 22 proto tcp" in added(host)
    assert "ufw allow 3000/tcp" not in added(host)

    run_deploy(sandbox_inventory, "deploys/firewall.py")  # the inventory's admin_ips again
    assert not [rule for rule in added(host) if extra in rule]
    assert ssh(sandbox_state, "root", sandbox_state["ssh_key"]).returncode == 0
