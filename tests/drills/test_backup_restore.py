"""Backup, destroy data, restore with deploys/restore.py: the data is back.
And a restore that fails leaves the data as it was, with the app and its
timers running again, and says so."""

import hashlib
import re
import subprocess
import uuid

import pytest

from tests.host.conftest import TABLES
from tests.pyinfra_run import run_deploy


@pytest.fixture
def marker(psql):
    """A row in users that only this drill wrote; removed afterwards."""
    email = f"drill-{uuid.uuid4().hex[:12]}@example.test"
    psql(f"INSERT INTO users (email, password_hash) VALUES ('{email}', 'drill')")
    yield email
    psql(f"DELETE FROM users WHERE email = '{email}'")


def app_units(host, app: str) -> dict[str, bool]:
    """The app's service and its timers: active or not."""
    names = host.check_output("systemctl list-unit-files --no-legend --plain %s %s | cut -d' ' -f1",
                              f"{app}.service", f"{app}-*.timer").split()
    assert f"{app}.service" in names and len(names) >= 4, names
    return {name: host.service(name).is_running for name in names}


def assert_app_back(host, target):
    app = target.data["app_name"]
    assert all(app_units(host, app).values()), app_units(host, app)
    assert '"status":"healthy"' in host.check_output("curl -fsS http://127.0.0.1:%s/health",
                                                     str(target.data["app_port"]))
    assert not host.file("/root/restore.dump").exists, "the decrypted dump was left on the server"


def test_backup_destroy_restore_the_newest(host, target, psql, marker, sandbox_inventory, tmp_path):
    app, backup_dir = target.data["app_name"], target.data["backup_dir"]
    listing = lambda: set(host.check_output("ls -1 %s", backup_dir).split())  # noqa: E731
    before = listing()
    try:
        host.check_output("systemctl start %s-backup.service", f"{app}")
        made = sorted(listing() - before)
        assert len(made) == 2 and made[1] == made[0] + ".sha256", made
        run_deploy(sandbox_inventory, "deploys/pull_backups.py", "--data", f"local_backup_dir={tmp_path}")
        pulled = sorted(path.name for path in (tmp_path / target.name).glob("*.dump.age"))
        # An older backup (the host's first, without the marker) is there too: only the newest has the row.
        assert len(pulled) >= 2 and pulled[-1] == made[0], pulled

        # The disaster: rows deleted and a table dropped.
        psql(f"DELETE FROM users WHERE email = '{marker}'")
        psql("DROP TABLE webhook_event_log")
        assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["0"]]

        # No restore_backup: restore.py picks the newest pulled backup itself.
        proc = run_deploy(sandbox_inventory, "deploys/restore.py", "--data", f"local_backup_dir={tmp_path}")
        assert f"--> Restoring {tmp_path / target.name / made[0]} to " in proc.stdout
        # Any running job or backup is stopped for the restore, not only the timers.
        assert f"Stop {app}-backup.service" in proc.stdout
        assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["1"]]
        tables = {row[0] for row in psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert TABLES <= tables
        assert_app_back(host, target)
    finally:
        for name in listing() - before:
            host.check_output("rm -f %s", f"{backup_dir}/{name}")


def test_a_failed_restore_changes_nothing_and_brings_the_app_back(host, target, psql, marker,
                                                                   sandbox_inventory, tmp_path):
    """A backup that decrypts and matches its checksum, but that pg_restore refuses."""
    local = tmp_path / target.name
    local.mkdir(mode=0o700)
    bad = local / f"{target.data['db_name']}-20000101T000000Z.dump.age"
    subprocess.run(["age", "--encrypt", "--recipient", target.data["backup_recipient"], "-o", str(bad)],
                   input=b"not a pg_dump archive\n", check=True)
    (local / f"{bad.name}.sha256").write_text(f"{hashlib.sha256(bad.read_bytes()).hexdigest()}  {bad.name}\n")
    users = psql("SELECT count(*) FROM users")

    proc = run_deploy(sandbox_inventory, "deploys/restore.py", "--data", f"local_backup_dir={tmp_path}",
                      "--data", f"restore_backup={bad.name}", check=False)
    assert proc.returncode != 0, "a restore that did not happen must fail the deploy:\n" + proc.stdout[-4000:]
    assert f"RESTORE FAILED: {bad.name} was not restored" in proc.stdout, proc.stdout[-4000:]
    # pyinfra prints no Results table when the host failed: the operation's own line says it.
    assert re.search(r"Starting operation: Run the database migrations *\n *\[[^]]+\] No changes", proc.stdout), \
        "migrated after a failed restore"
    assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["1"]]
    assert psql("SELECT count(*) FROM users") == users
    assert_app_back(host, target)
