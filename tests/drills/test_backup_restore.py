"""Backup, destroy data, restore with deploys/restore.py: the data is back.
A rollback on the host's own backup happens only when named and confirmed.
Bad input (corrupt, truncated, wrong key, checksum, another database, a newer
schema) is refused before anything on the host is touched. A restore that
pg_restore refuses leaves the data as it was, with the app and its timers
running again, and says so. The whole recovery on a rebuilt host is
tests/drills/disaster_recovery.py."""

import contextlib
import hashlib
import json
import shutil
import subprocess
import time
import uuid

import pytest

from deploys.lib.app_runtime import APP
from tests.drills.conftest import host_untouched
from tests.host.conftest import TABLES, app_curl
from tests.pyinfra_run import operations_run, ran, run_deploy


@pytest.fixture
def marker(psql):
    """A row in users that only this drill wrote; removed afterwards."""
    email = f"drill-{uuid.uuid4().hex[:12]}@example.test"
    psql(f"INSERT INTO users (email, password_hash) VALUES ('{email}', 'drill')")
    yield email
    psql(f"DELETE FROM users WHERE email = '{email}'")


@pytest.fixture
def take_backup(host, target, sandbox_inventory, tmp_path):
    """take_backup() -> the pulled copy's dump: a backup on the host, pulled into
    tmp_path; the backups this drill made are removed from the host afterwards."""
    backup_dir = target.data["backup_dir"]
    listing = lambda: set(host.check_output("ls -1 %s", backup_dir).split())  # noqa: E731
    before = listing()

    def take():
        made = listing()
        host.check_output("systemctl start %s-backup.service", APP)
        [dump] = [name for name in listing() - made if name.endswith(".dump.age")]
        run_deploy(sandbox_inventory, "deploys/pull_backups.py", "--data", f"local_backup_dir={tmp_path}")
        return tmp_path / target.name / dump

    yield take
    for name in listing() - before:
        host.check_output("rm -f %s", f"{backup_dir}/{name}")


@contextlib.contextmanager
def backup_running(host, target, psql, hold: int = 25):
    """A backup that runs on through the block: its pg_dump waits on a lock
    that another session holds on users for `hold` seconds."""
    lock = "drill-hold-users-lock"
    host.check_output("systemd-run --unit=%s --uid=postgres --working-directory=/ psql -X -1 -d %s "
                      "-c 'LOCK TABLE users' -c %s", lock, target.data["db_name"], f"SELECT pg_sleep({hold})")
    try:
        host.check_output("systemctl start --no-block %s-backup.service", APP)
        waiting = ("SELECT count(*) FROM pg_stat_activity "
                   "WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'")
        deadline = time.monotonic() + 15
        while psql(waiting) != [["1"]]:
            assert time.monotonic() < deadline, "the backup's pg_dump never came to wait on the lock"
            time.sleep(0.2)
        yield
    finally:
        host.run("systemctl stop %s", lock)


def restore(sandbox_inventory, tmp_path, *data: str, check: bool = True):
    args = [arg for pair in (f"local_backup_dir={tmp_path}", *data) for arg in ("--data", pair)]
    return run_deploy(sandbox_inventory, "deploys/restore.py", *args, check=check)


def app_units(host, app: str) -> dict[str, bool]:
    """The app's service and its timers: active or not."""
    names = host.check_output("systemctl list-unit-files --no-legend --plain %s %s | cut -d' ' -f1",
                              f"{app}.service", f"{app}-*.timer").split()
    assert f"{app}.service" in names and len(names) >= 4, names
    return {name: host.service(name).is_running for name in names}


def assert_app_back(host, target):
    app = APP
    assert all(app_units(host, app).values()), app_units(host, app)
    assert '"status":"healthy"' in host.check_output(f"{app_curl(target.data)} -f http://localhost/health")
    assert not host.file("/root/restore.dump").exists, "the decrypted dump was left on the server"


def app_started_at(host, target) -> str:
    return host.check_output("systemctl show -P ActiveEnterTimestampMonotonic %s", f"{APP}.service")


def test_a_rollback_on_the_hosts_own_backup_needs_its_name_and_a_confirmation(host, target, psql, marker,
                                                                               sandbox_inventory, tmp_path,
                                                                               take_backup):
    dump = take_backup()
    # The disaster: rows deleted and a table dropped.
    psql(f"DELETE FROM users WHERE email = '{marker}'")
    psql("DROP TABLE webhook_event_log")

    # The backup comes from the database it would replace: not taken without a name, nor with one alone.
    for data in ((), (f"restore_backup={dump.name}",)):
        proc = restore(sandbox_inventory, tmp_path, *data, check=False)
        assert proc.returncode != 0 and "nothing was restored or changed" in proc.stdout, proc.stdout[-3000:]
        assert "restore_confirmed=true" in proc.stdout
    assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["0"]]

    with backup_running(host, target, psql):
        proc = restore(sandbox_inventory, tmp_path, f"restore_backup={dump.name}", "restore_confirmed=true")
    assert f"--> Restoring {dump} to {target.name}" in proc.stdout
    assert "(the database it replaces: a rollback)" in proc.stdout
    # Any running job or backup is stopped for the restore, not only the timers.
    assert ran(proc, f"systemctl stop {APP}-backup.service"), "the running backup was not stopped"
    assert host.check_output("systemctl show -P ActiveState %s-backup.service", APP) in ("inactive", "failed")
    assert psql(f"SELECT count(*) FROM users WHERE email = '{marker}'") == [["1"]]
    tables = {row[0] for row in psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert TABLES <= tables
    assert_app_back(host, target)


def rewrite_checksums(dump):
    checksums = dump.with_name(dump.name + ".sha256")
    manifest = dump.with_name(dump.name.removesuffix(".dump.age") + ".manifest.json")
    checksums.write_text("".join(f"{hashlib.sha256(part.read_bytes()).hexdigest()}  {part.name}\n"
                                 for part in (dump, manifest)))


def edit_manifest(dump, **changes):
    manifest = dump.with_name(dump.name.removesuffix(".dump.age") + ".manifest.json")
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **changes}))
    rewrite_checksums(dump)


def flip_bytes(dump):
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))


def corrupt(dump, tmp_path):
    flip_bytes(dump)
    rewrite_checksums(dump)


def truncate(dump, tmp_path):
    dump.write_bytes(dump.read_bytes()[:len(dump.read_bytes()) // 2])
    rewrite_checksums(dump)


def wrong_key(dump, tmp_path):
    key = tmp_path / "another-key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    return [f"backup_identity_file={key}"]


BAD_BACKUPS = {
    "corrupt": (corrupt, "does not decrypt with"),
    "truncated": (truncate, "does not decrypt with"),
    "wrong age key": (wrong_key, "no identity matched any of the recipients"),
    "checksum mismatch": (lambda dump, tmp_path: flip_bytes(dump), "does not match its checksum"),
    "another database": (lambda dump, tmp_path: edit_manifest(dump, database="other_db"),
                         "is a backup of app 'insta-connect-demo', database 'other_db'"),
    "another app": (lambda dump, tmp_path: edit_manifest(dump, app="other-app"), "is a backup of app 'other-app'"),
    "newer schema": (lambda dump, tmp_path: edit_manifest(dump, migrations=[1, 2, 3, 9999]),
                     "has migrations [9999] that this code does not have"),
}


@pytest.fixture(scope="module")
def good_backup(host, target, sandbox_inventory, tmp_path_factory):
    """One real backup, pulled; each bad-input case spoils a copy of it."""
    pulled = tmp_path_factory.mktemp("good")
    backup_dir = target.data["backup_dir"]
    made = set(host.check_output("ls -1 %s", backup_dir).split())
    host.check_output("systemctl start %s-backup.service", APP)
    new = set(host.check_output("ls -1 %s", backup_dir).split()) - made
    try:
        run_deploy(sandbox_inventory, "deploys/pull_backups.py", "--data", f"local_backup_dir={pulled}")
    finally:
        for name in new:
            host.check_output("rm -f %s", f"{backup_dir}/{name}")
    [dump] = [pulled / target.name / name for name in new if name.endswith(".dump.age")]
    return dump


@pytest.mark.parametrize("case", BAD_BACKUPS)
def test_a_bad_backup_is_refused_before_anything_is_touched(case, host, target, psql, sandbox_inventory, tmp_path,
                                                            good_backup):
    spoil, message = BAD_BACKUPS[case]
    local = tmp_path / target.name
    shutil.copytree(good_backup.parent, local, ignore=shutil.ignore_patterns(".incoming"))
    dump = local / good_backup.name
    extra = spoil(dump, tmp_path) or []
    rows, started = psql("SELECT count(*) FROM users"), app_started_at(host, target)

    with host_untouched(host, target.data):
        # Named and confirmed: the checks below the choice still hold.
        proc = restore(sandbox_inventory, tmp_path, f"restore_backup={dump.name}", "restore_confirmed=true",
                       *extra, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "nothing was restored or changed: " in proc.stdout and message in proc.stdout, proc.stdout[-3000:]
    assert operations_run(proc) == [], "an operation ran on the host"
    assert psql("SELECT count(*) FROM users") == rows
    assert app_started_at(host, target) == started, "the app was restarted"


def test_a_failed_restore_changes_nothing_and_brings_the_app_back(host, target, psql, sandbox_inventory, tmp_path,
                                                                   take_backup):
    """A good backup that pg_restore refuses part-way: it gives a table to a role this host lacks."""
    owner = psql("SELECT tableowner FROM pg_tables WHERE tablename = 'webhook_event_log'")[0][0]
    psql("CREATE ROLE drill_gone")
    try:
        psql("ALTER TABLE webhook_event_log OWNER TO drill_gone")
        dump = take_backup()
    finally:
        psql(f"ALTER TABLE webhook_event_log OWNER TO {owner}")
        psql("DROP ROLE drill_gone")
    email = f"drill-{uuid.uuid4().hex[:12]}@example.test"
    psql(f"INSERT INTO users (email, password_hash) VALUES ('{email}', 'drill')")  # after the backup
    users = psql("SELECT count(*) FROM users")
    since = host.check_output("date +%%s")
    try:
        proc = restore(sandbox_inventory, tmp_path, f"restore_backup={dump.name}", "restore_confirmed=true",
                       check=False)
        assert proc.returncode != 0, "a restore that did not happen must fail the deploy:\n" + proc.stdout[-4000:]
        assert 'role "drill_gone" does not exist' in proc.stdout, proc.stdout[-4000:]
        assert f"RESTORE FAILED: {dump.name} was not restored" in proc.stdout, proc.stdout[-4000:]
        # Each app command is a transient unit, which systemd's journal names by its command line.
        assert host.run("journalctl -q --since @%s -g 'python -m app.migrate'", since).stdout == "", \
            "migrated after a failed restore"
        assert psql(f"SELECT count(*) FROM users WHERE email = '{email}'") == [["1"]]
        assert psql("SELECT count(*) FROM users") == users
        assert_app_back(host, target)
    finally:
        psql(f"DELETE FROM users WHERE email = '{email}'")
