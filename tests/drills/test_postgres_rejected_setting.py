"""A PostgreSQL setting the server refuses fails the deploy and never reaches
/etc/postgresql: the loaded configuration stays, and a restart (as an
unattended upgrade would make) still comes back up."""

from tests.drills.conftest import deploy_with
from tests.pyinfra_run import run_deploy


def settings_file(host) -> str:
    return host.check_output("ls /etc/postgresql/*/main/conf.d/90-insta-connect-demo.conf")


def test_refused_setting_never_goes_live(sandbox_inventory, host):
    path = settings_file(host)
    live_before = host.file(path).sha256sum
    try:
        # Renders `max_connections = -5`, which postgres refuses (1 and up), as a bad group data value would.
        proc = deploy_with(sandbox_inventory, "deploys/postgres.py", postgres_max_connections=-5)
        assert proc.returncode != 0, "the deploy went through with a setting postgres refuses"
        assert "rejected by `postgres -C`" in proc.stdout, proc.stdout[-3000:]
        assert host.file(path).sha256sum == live_before
        assert "max_connections = -5" not in host.check_output("cat /etc/postgresql/*/main/conf.d/*.conf")
        host.run_test("systemctl restart postgresql")
        assert host.check_output("runuser -u postgres -- psql -XAtc 'SELECT 1'") == "1"
    finally:
        run_deploy(sandbox_inventory, "deploys/postgres.py")
    assert host.file(path).sha256sum == live_before
