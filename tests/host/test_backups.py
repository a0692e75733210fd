"""deploys/backups.py, as the host shows it. Read-only: safe against production.
Needs the operator's age key (backup_identity_file) to prove a backup decrypts."""

import base64
import datetime as dt
import subprocess
from pathlib import Path

import pytest

from app.migrate import discover
from deploys.lib.app_runtime import APP
from deploys.lib.pulled_backups import read_backup, verify
from tests.host.conftest import (TABLES, assert_enabled_and_running, assert_every, assert_owner_and_mode,
                                  calendar_elapses, next_elapse)


@pytest.fixture(scope="module")
def newest(host, target, tmp_path_factory) -> Path:
    """A local copy of the newest complete backup (its checksum file is written last): dump,
    manifest and checksums."""
    names = host.check_output("ls -1 %s", target.data["backup_dir"]).split()
    complete = sorted(name.removesuffix(".sha256") for name in names if name.endswith(".dump.age.sha256"))
    assert complete, f"no complete backups in {target.data['backup_dir']}"
    copy = tmp_path_factory.mktemp("newest-backup")
    base = complete[-1].removesuffix(".dump.age")
    for name in (f"{base}.dump.age", f"{base}.manifest.json", f"{base}.dump.age.sha256"):
        remote = f"{target.data['backup_dir']}/{name}"
        (copy / name).write_bytes(base64.b64decode(host.check_output("base64 -w0 %s", remote)))
    return copy / f"{base}.dump.age"


@pytest.mark.proves("S4.3-location")
def test_backup_dir_is_root_only(host, target):
    d = host.file(target.data["backup_dir"])
    assert d.is_directory, f"{target.data['backup_dir']} is not a directory"
    assert_owner_and_mode(d, "root", "root", 0o700)


@pytest.mark.proves("S4.3-schedule")
def test_backup_timer_runs_daily_at_1_utc(host, target):
    timer = f"{APP}-backup.timer"
    assert_enabled_and_running(host, timer)
    when = next_elapse(host, timer)
    assert (when.hour, when.minute, when.second) == (1, 0, 0)
    assert when - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    elapses = calendar_elapses(host, timer)
    assert_every(elapses, dt.timedelta(days=1))
    assert host.check_output("systemctl show -P Persistent %s", timer) == "yes"


@pytest.mark.proves("S9.1-encrypted")
def test_server_holds_no_private_key(host):
    found = host.run("grep -rlsI AGE-SECRET-KEY- /etc /root /opt /usr/local /var/lib/postgresql")
    assert found.stdout.strip() == "", f"an age private key is on the server: {found.stdout}"


@pytest.mark.proves("S4.3-retention")
def test_no_backup_older_than_retention(host, target):
    stale = host.check_output("find %s -name '*.dump.age*' -mmin +%s", target.data["backup_dir"],
                              str((target.data["backup_retention_days"] + 1) * 24 * 60))
    assert stale == ""  # the deletion itself: tests/drills/test_backup_retention.py


@pytest.mark.proves("S9.1-encrypted")
def test_newest_backup_matches_its_checksums_and_decrypts(target, newest):
    identity = target.data["backup_identity_file"]
    assert identity and Path(identity).is_file(), "set backup_identity_file to the operator's age key"
    verify(newest)
    dump = subprocess.run(["age", "--decrypt", "-i", identity, str(newest)], capture_output=True, check=True).stdout
    assert dump.startswith(b"PGDMP"), "not a pg_dump custom-format archive"


def test_newest_backups_manifest_names_this_host_its_database_and_schema(host, target, newest):
    """What restore.py chooses by: the host's inventory name, the database cluster it was
    taken from (this one's), and the rows of the document's tables."""
    manifest = read_backup(newest).manifest
    cluster = host.check_output("cd / && runuser -u postgres -- psql -XAtc %s",
                                "SELECT system_identifier FROM pg_control_system()")
    assert (manifest["host"], manifest["app"], manifest["database"], manifest["cluster"]) == \
        (target.name, APP, target.data["db_name"], cluster)
    assert TABLES <= manifest["rows"].keys()
    # Restorable by this code: no migration it lacks (a deploy may have added one since).
    assert manifest["migrations"] and set(manifest["migrations"]) <= {migration.version for migration in discover()}
