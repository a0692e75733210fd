"""Backup, destroy data, restore with deploys/restore.py: the data is back."""

import uuid

from tests.host.conftest import TABLES
from tests.pyinfra_run import run_deploy


def test_backup_destroy_restore(host, target, psql, sandbox_inventory, tmp_path):
    app, backup_dir = target.data["app_name"], target.data["backup_dir"]
    marker = f"drill-{uuid.uuid4().hex[:12]}@example.test"
    listing = lambda: set(host.check_output("ls -1 %s", backup_dir).split())  # noqa: E731
    before = listing()
    psql(f"INSERT INTO users (email, password_hash) VALUES ('{marker}', 'drill')")
    try:
        host.check_output("systemctl start %s-backup.service", f"{app}")
        made = sorted(listing() - before)
        assert len(made) == 2 and made[1] == made[0] + ".sha256", made
        run_deploy(sandbox_inventory, "deploys/pull_backups.py", "--data", f"local_backup_dir={tmp_path}")
        assert (tmp_path / target.name / made[0]).is_file()

        # The disaster: rows deleted and a table dropped.
        psql(f"DELETE FROM users WHERE email = '{marker}'")
        psql("DROP TABLE webhook_event_log")
        assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["0"]]

        run_deploy(sandbox_inventory, "deploys/restore.py", "--data", f"local_backup_dir={tmp_path}",
                   "--data", f"restore_backup={made[0]}")
        assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["1"]]
        tables = {row[0] for row in psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert TABLES <= tables
        assert host.service(f"{app}.service").is_running
        assert '"status":"healthy"' in host.check_output("curl -fsS http://127.0.0.1:%s/health",
                                                         str(target.data["app_port"]))
        assert not host.file("/root/restore.dump").exists, "the decrypted dump was left on the server"
    finally:
        psql(f"DELETE FROM users WHERE email = '{marker}'")
        for name in listing() - before:
            host.check_output("rm -f %s", f"{backup_dir}/{name}")
