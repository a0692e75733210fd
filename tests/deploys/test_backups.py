"""deploys/lib/pulled_backups.py: which pulled backup restore.py restores, and which
it refuses before touching the host: fast tier."""

import hashlib
import json

import pytest

from deploys.lib.pulled_backups import (BackupError, LiveDatabase, accept_pulled, check_restorable, choose, describe,
                                 pulled, verify)

OLD, NEW = "1111", "2222"  # database clusters: the host before the disaster, and the rebuilt one
ROWS = {"users": 1, "instagram_accounts": 1, "webhook_events": 5}
EMPTY = dict.fromkeys(ROWS, 0)


def write_backup(directory, stamp, cluster, rows, *, app="insta-connect-demo", database="insta_connect_demo",
                 migrations=(1, 2, 3), checksums=True):
    """A backup as the server's script writes it: dump, manifest, then one checksum file for both."""
    base = f"{database}-{stamp}"
    dump, manifest = directory / f"{base}.dump.age", directory / f"{base}.manifest.json"
    dump.write_bytes(f"encrypted {base}".encode())
    manifest.write_text(json.dumps({"host": "box", "app": app, "database": database, "cluster": cluster,
                                    "taken_at": stamp, "migrations": list(migrations), "rows": rows}))
    if checksums:
        (directory / f"{base}.dump.age.sha256").write_text("".join(
            f"{hashlib.sha256(part.read_bytes()).hexdigest()}  {part.name}\n" for part in (dump, manifest)))
    return dump


def names(backups):
    return [backup.name for backup in backups]


def test_the_trap_a_rebuilt_hosts_own_newer_empty_backup_is_never_chosen(tmp_path):
    """Back up, pull, rebuild, pull again (the rebuilt host's first backup), restore with no name."""
    before = write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    write_backup(tmp_path, "20261202T090000Z", NEW, EMPTY)
    write_backup(tmp_path, "20261202T093000Z", NEW, EMPTY)
    assert choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), None, False).dump == before


def test_the_newest_earlier_backup_wins(tmp_path):
    write_backup(tmp_path, "20261130T010000Z", OLD, ROWS)
    newest = write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    assert choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), None, False).dump == newest


def test_a_backup_with_fewer_rows_than_the_database_is_not_chosen(tmp_path):
    write_backup(tmp_path, "20261201T010000Z", OLD, EMPTY)
    with pytest.raises(BackupError, match=r"fewer rows \(0\) than the database it would replace \(7\).*"
                                          r"restore_backup=insta_connect_demo-20261201T010000Z.dump.age"):
        choose(pulled(tmp_path), LiveDatabase(NEW, ROWS), None, False)


def test_a_hosts_own_backups_are_not_restored_without_a_name(tmp_path):
    write_backup(tmp_path, "20261201T010000Z", NEW, ROWS)
    with pytest.raises(BackupError, match="every pulled backup was taken from the database it would replace"):
        choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), None, False)


def test_a_rollback_on_purpose_needs_the_name_and_the_confirmation(tmp_path):
    own = write_backup(tmp_path, "20261201T010000Z", NEW, ROWS)
    with pytest.raises(BackupError, match="rolls that database back.*restore_confirmed=true"):
        choose(pulled(tmp_path), LiveDatabase(NEW, ROWS), own.name, False)
    assert choose(pulled(tmp_path), LiveDatabase(NEW, ROWS), own.name, True).dump == own
    smaller = write_backup(tmp_path, "20261202T010000Z", OLD, EMPTY)
    with pytest.raises(BackupError, match="fewer rows"):
        choose(pulled(tmp_path), LiveDatabase(NEW, ROWS), smaller.name, False)
    assert choose(pulled(tmp_path), LiveDatabase(NEW, ROWS), smaller.name, True).dump == smaller


def test_a_named_backup_the_rule_accepts_needs_no_confirmation(tmp_path):
    older = write_backup(tmp_path, "20261130T010000Z", OLD, ROWS)
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    assert choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), older.name, False).dump == older


def test_no_backup_or_an_unknown_name_is_refused(tmp_path):
    with pytest.raises(BackupError, match="no backups pulled for this host.*pull_backups.py"):
        choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), None, False)
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    with pytest.raises(BackupError, match="no complete backup named nope.dump.age"):
        choose(pulled(tmp_path), LiveDatabase(NEW, EMPTY), "nope.dump.age", False)


def test_a_backup_still_being_pulled_or_written_is_not_seen(tmp_path):
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS, checksums=False)
    assert pulled(tmp_path) == []


def test_backups_are_ordered_by_when_they_were_taken(tmp_path):
    for stamp in ("20261202T010000Z", "20261130T010000Z", "20261201T010000Z"):
        write_backup(tmp_path, stamp, OLD, ROWS)
    assert [backup.manifest["taken_at"] for backup in pulled(tmp_path)] == \
        ["20261130T010000Z", "20261201T010000Z", "20261202T010000Z"]


def test_a_dump_or_manifest_that_does_not_match_its_checksum_is_refused(tmp_path):
    dump = write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    verify(dump)
    dump.write_bytes(dump.read_bytes() + b"x")
    with pytest.raises(BackupError, match="dump.age does not match its checksum"):
        verify(dump)
    manifest = write_backup(tmp_path, "20261202T010000Z", OLD, ROWS).with_name(
        "insta_connect_demo-20261202T010000Z.manifest.json")
    manifest.write_text(manifest.read_text().replace('"users": 1', '"users": 9'))
    with pytest.raises(BackupError, match="manifest.json does not match its checksum"):
        pulled(tmp_path)


def test_a_backup_without_a_manifest_is_refused(tmp_path):
    """A dump from before manifests, or from another tool: its checksum file names no manifest."""
    dump = tmp_path / "insta_connect_demo-20261201T010000Z.dump.age"
    dump.write_bytes(b"x")
    (tmp_path / f"{dump.name}.sha256").write_text(f"{hashlib.sha256(b'x').hexdigest()}  {dump.name}\n")
    with pytest.raises(BackupError, match="no checksum for insta_connect_demo-20261201T010000Z.manifest.json"):
        pulled(tmp_path)


@pytest.mark.parametrize("app, database", [("other-app", "insta_connect_demo"), ("insta-connect-demo", "other_db")])
def test_a_backup_of_another_app_or_database_is_refused(tmp_path, app, database):
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS, app=app, database=database)
    [backup] = pulled(tmp_path)
    with pytest.raises(BackupError, match=f"backup of app '{app}', database '{database}'.*refusing"):
        check_restorable(backup, "insta-connect-demo", "insta_connect_demo", {1, 2, 3})


def test_a_backup_from_a_newer_schema_is_refused(tmp_path):
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS, migrations=(1, 2, 3, 4))
    [backup] = pulled(tmp_path)
    with pytest.raises(BackupError, match=r"migrations \[4\] that this code does not have"):
        check_restorable(backup, "insta-connect-demo", "insta_connect_demo", {1, 2, 3})
    check_restorable(backup, "insta-connect-demo", "insta_connect_demo", {1, 2, 3, 4, 5})


def test_the_plan_shows_host_time_and_rows_per_table(tmp_path):
    write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    [backup] = pulled(tmp_path)
    plan = describe(backup, LiveDatabase(NEW, {**EMPTY, "job_runs": 2}), "box")
    assert "taken    20261201T010000Z on box, database cluster 1111 (an earlier database)" in plan
    assert [line.split() for line in plan.splitlines() if line.split()[0] in ("users", "job_runs", "total")] == \
        [["job_runs", "-", "2"], ["users", "1", "0"], ["total", "7", "2"]]


def test_a_pulled_backup_is_moved_in_only_once_it_matches_its_checksums(tmp_path):
    incoming, pulled_dir = tmp_path / ".incoming", tmp_path / "box"
    incoming.mkdir()
    pulled_dir.mkdir()
    dump = write_backup(incoming, "20261201T010000Z", OLD, ROWS)
    dump.write_bytes(b"cut short")
    with pytest.raises(BackupError, match="does not match its checksum"):
        accept_pulled(dump, pulled_dir)
    assert pulled(pulled_dir) == []
    good = write_backup(incoming, "20261202T010000Z", OLD, ROWS)
    accept_pulled(good, pulled_dir)
    assert names(pulled(pulled_dir)) == [good.name]


def test_rows_in_tables_backups_do_not_keep_do_not_count(tmp_path):
    """Sessions are never backed up: a rebuilt host's logins must not make its backups look smaller."""
    before = write_backup(tmp_path, "20261201T010000Z", OLD, ROWS)
    live = LiveDatabase(NEW, {**EMPTY, "users": 1, "sessions": 50})
    assert choose(pulled(tmp_path), live, None, False).dump == before
