"""An sshd drop-in that `sshd -t` refuses fails the deploy and never goes live:
logins keep working with the previous one."""

from tests.drills.conftest import deploy_with, ssh
from tests.pyinfra_run import run_deploy

DROP_IN = "/etc/ssh/sshd_config.d/10-hardening.conf"


def test_bad_drop_in_never_goes_live(sandbox_inventory, sandbox_state, host):
    live_before = host.file(DROP_IN).sha256sum
    try:
        # No MACs at all renders `MACs` with no argument: sshd -t refuses the file.
        proc = deploy_with(sandbox_inventory, "deploys/ssh.py", ssh_macs=[])
        assert proc.returncode != 0, "the deploy went through with a drop-in sshd refuses"
        assert "rejected by `sshd -t`" in proc.stdout
        assert host.file(DROP_IN).sha256sum == live_before
        assert host.run("sshd -t").rc == 0
        login = ssh(sandbox_state, "root", sandbox_state["ssh_key"])
        assert login.returncode == 0, login.stderr
    finally:
        run_deploy(sandbox_inventory, "deploys/ssh.py")
    assert host.file(DROP_IN).sha256sum == live_before
