"""deploys/backups.py, as the host shows it. Read-only: safe against production.
Needs the operator's age key (backup_identity_file) to prove a backup decrypts."""

import base64
import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.host.conftest import assert_every, calendar_elapses, next_elapse


@pytest.fixture(scope="module")
def newest(host, target) -> str:
    names = host.check_output("ls -1 %s", target.data["backup_dir"]).split()
    dumps = sorted(n for n in names if n.endswith(".dump.age"))
    assert dumps, f"no backups in {target.data['backup_dir']}"
    return f"{target.data['backup_dir']}/{dumps[-1]}"


def test_backup_dir_is_root_only(host, target):
    d = host.file(target.data["backup_dir"])
    assert (d.is_directory, d.user, d.group, d.mode) == (True, "root", "root", 0o700)


def test_backup_timer_runs_daily_at_1_utc(host, target):
    timer = f"{target.data['app_name']}-backup.timer"
    assert host.service(timer).is_enabled and host.service(timer).is_running
    when = next_elapse(host, timer)
    assert (when.hour, when.minute, when.second) == (1, 0, 0)
    assert when - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    elapses = calendar_elapses(host, timer)
    assert_every(elapses, dt.timedelta(days=1))
    assert host.check_output("systemctl show -P Persistent %s", timer) == "yes"


def test_server_holds_no_private_key(host):
    found = host.run("grep -rlsI AGE-SECRET-KEY- /etc /root /opt /usr/local /var/lib/postgresql")
    assert found.stdout.strip() == "", f"an age private key is on the server: {found.stdout}"


def test_no_backup_older_than_retention(host, target):
    stale = host.check_output("find %s -name '*.dump.age*' -mmin +%s", target.data["backup_dir"],
                              str((target.data["backup_retention_days"] + 1) * 24 * 60))
    assert stale == ""


def test_newest_backup_matches_its_checksum_and_decrypts(host, target, newest, tmp_path):
    identity = target.data["backup_identity_file"]
    assert identity and Path(identity).is_file(), "set backup_identity_file to the operator's age key"
    encrypted = base64.b64decode(host.check_output("base64 -w0 %s", newest))
    recorded = host.check_output("cat %s.sha256", newest).split()[0]
    assert hashlib.sha256(encrypted).hexdigest() == recorded
    (tmp_path / "backup.age").write_bytes(encrypted)
    dump = subprocess.run(["age", "--decrypt", "-i", identity, str(tmp_path / "backup.age")],
                          capture_output=True, check=True).stdout
    assert dump.startswith(b"PGDMP"), "not a pg_dump custom-format archive"
