"""The infrastructure document's operator commands that change the host, run
exactly as it prints them (tests/document_commands.py), on the sandbox: the
app's stop, start and restart (3.1), the manual backup restored into a lost
database (4.3, 9.2), `certbot renew` (5.2, 12.3); and the rotation of the
PostgreSQL log it tails (12.2). Each leaves the host as it found it."""

import pytest
import contextlib
import json
import re
import secrets

from deploys.lib.app_runtime import APP
from tests.document_commands import run_as_printed
from tests.host.conftest import app_curl

DUMP = "pg_dump -U insta_user insta_connect_demo > backup-$(date +%Y%m%d).sql"
POSTGRES_LOG = "/var/log/postgresql/postgresql.log"


def app_state(host) -> str:
    return host.run("systemctl is-active %s.service", APP).stdout.strip()


def assert_healthy(host, data: dict) -> None:
    health = json.loads(host.check_output(f"{app_curl(data)} --max-time 30 http://localhost/health"))
    assert health["status"] == "healthy", health


@contextlib.contextmanager
def app_running_after(host):
    """Whatever the drill does, the app runs again after it."""
    try:
        yield
    finally:
        host.run("systemctl start %s.service", APP)


@pytest.mark.proves("S3.1-start-stop", "S3.1-restart")
def test_3_1_stop_start_and_restart(host, target):
    with app_running_after(host):
        result = run_as_printed(host, target.data, "systemctl stop insta-connect-demo")
        assert result.rc == 0, result.stderr
        assert app_state(host) == "inactive"

        result = run_as_printed(host, target.data, "systemctl start insta-connect-demo")
        assert result.rc == 0, result.stderr
        assert app_state(host) == "active"
        assert_healthy(host, target.data)

        started = host.check_output("systemctl show -P MainPID %s.service", APP)
        result = run_as_printed(host, target.data, "systemctl restart insta-connect-demo")
        assert result.rc == 0, result.stderr
        assert host.check_output("systemctl show -P MainPID %s.service", APP) != started
        assert_healthy(host, target.data)


@contextlib.contextmanager
def jobs_held(host):
    """The app's timers stopped (and any job they started finished) for the
    drill, as deploys/restore.py does: no job meets a database being restored."""
    timers = host.check_output("systemctl list-units --type=timer --state=active --plain --no-legend "
                               "'%s-*.timer' | cut -d' ' -f1", APP).split()
    host.check_output(f"systemctl stop {' '.join(timers)} '{APP}-*.service'")
    try:
        yield
    finally:
        host.check_output(f"systemctl start {' '.join(timers)}")


def dump_as_printed(host, data: dict, directory: str) -> str:
    """4.3's manual backup, in directory; returns the dump's contents (but its
    \\restrict key, new with each dump)."""
    host.check_output("mkdir -p %s", directory)
    result = run_as_printed(host, data, DUMP, cwd=directory)
    assert result.rc == 0 and result.stderr == "", result.stderr
    return re.sub(r"^\\(un)?restrict \S+$", "", host.check_output("cat %s/backup-*.sql", directory), flags=re.M)


@pytest.mark.proves("S4.3-restore", "S9.2-database-recovery", "S4.3-manual-backup")
def test_4_3_and_9_2_the_manual_backup_restores_a_lost_database(host, target):
    data = target.data
    scratch = host.check_output("mktemp -d")  # 0700, root's
    try:
        with jobs_held(host), app_running_after(host):
            before = dump_as_printed(host, data, f"{scratch}/backup")
            assert "CREATE TABLE public.users (" in before
            result = run_as_printed(host, data, "systemctl stop insta-connect-demo")
            assert result.rc == 0, result.stderr
            # The loss: an empty database, as the deploy creates it.
            host.check_output("cd / && runuser -u postgres -- dropdb --force %s && "
                          "runuser -u postgres -- createdb --owner=%s --encoding=UTF8 %s",
                          data["db_name"], data["db_user"], data["db_name"])
            backup_date = host.check_output("ls %s/backup", scratch)[len("backup-"):-len(".sql")]
            result = run_as_printed(host, data, "psql -U insta_user insta_connect_demo < backup-YYYYMMDD.sql",
                                    cwd=f"{scratch}/backup", backup_date=backup_date)
            # psql goes on after a failed statement and still exits 0: its errors are on stderr.
            assert result.rc == 0 and result.stderr == "", result.stderr
            result = run_as_printed(host, data, "systemctl start insta-connect-demo")
            assert result.rc == 0, result.stderr
            assert_healthy(host, data)
            assert dump_as_printed(host, data, f"{scratch}/after") == before, "the restored database differs"
    finally:
        host.run("rm -rf %s", scratch)


def test_5_2_and_12_3_certbot_renew_leaves_a_certificate_not_due(host, target):
    cert = f"/etc/letsencrypt/live/{target.data['domain']}/cert.pem"
    serial = host.check_output("openssl x509 -noout -serial -in %s", cert)
    result = run_as_printed(host, target.data, "certbot renew")
    assert result.rc == 0, result.stderr
    assert "No renewals were attempted." in result.stdout, result.stdout
    assert f"live/{target.data['domain']}/fullchain.pem expires on" in result.stdout
    assert host.check_output("openssl x509 -noout -serial -in %s", cert) == serial


@pytest.mark.proves("S12.2-postgresql-log")
def test_12_2_the_postgresql_log_rotates_once_and_the_server_writes_on(host, psql):
    def mark() -> str:
        marker = f"drill-{secrets.token_hex(6)}"
        psql(f"DO $$ BEGIN RAISE LOG '{marker}'; END $$")
        return marker

    before = mark()
    host.check_output("logrotate -f /etc/logrotate.d/postgresql-common")
    after = mark()
    # Rotated once (a linked log would be copied twice), and written on from its start (copytruncate).
    assert host.check_output("zgrep -l %s /var/log/postgresql/*", before).split() == [f"{POSTGRES_LOG}.1"]
    assert host.check_output("zgrep -l %s /var/log/postgresql/*", after).split() == [POSTGRES_LOG]
    assert host.run("grep -qaP '\\x00' %s", POSTGRES_LOG).rc == 1, "the log starts with the old length in NULs"
