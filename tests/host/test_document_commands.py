"""The infrastructure document's read-only operator commands, run on the host
exactly as it prints them (tests/document_commands.py: only the domain, and
`tail -f` as `tail -n`), and what each must show. Read-only: safe against
production; the one file written, section 4.3's dump, goes to a scratch
directory only root can enter, removed after."""

import json
import re

import pytest

from deploys.lib.app_runtime import APP
from tests.document_commands import run_as_printed
from tests.host.conftest import TABLES

TAIL_HEADER = re.compile(r"^==> .+ <==$")
POSTGRES_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \w+ \[\d+\] ")  # Debian's log_line_prefix


def status(host, target, command: str):
    """`systemctl status ...`: its output (systemd's own complaints on stderr aside)."""
    result = run_as_printed(host, target.data, command)
    assert "Loaded: loaded (/" in result.stdout, result.stdout + result.stderr
    return result


def test_3_1_and_12_1_service_status_says_active_and_enabled(host, target):
    result = status(host, target, "systemctl status insta-connect-demo")
    assert result.rc == 0
    assert "Active: active (running)" in result.stdout
    assert f"/etc/systemd/system/{APP}.service; enabled;" in result.stdout


@pytest.mark.parametrize("command", [
    "systemctl status insta-connect-demo-token-refresh.timer",
    "systemctl status insta-connect-demo-webhook-processor.timer",
])
def test_3_2_and_3_3_timer_status_says_waiting_with_a_next_run(host, target, command):
    result = status(host, target, command)
    assert result.rc == 0
    assert "Active: active (waiting)" in result.stdout
    assert re.search(r"^\s+Trigger: \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC;", result.stdout, re.MULTILINE), \
        result.stdout


@pytest.mark.parametrize("command", [
    "systemctl status insta-connect-demo-token-refresh.service",
    "systemctl status insta-connect-demo-webhook-processor.service",
])
def test_3_2_and_3_3_job_status_says_triggered_by_its_timer_and_not_failed(host, target, command):
    result = status(host, target, command)
    job = command.split()[-1]
    # 3: a oneshot between runs is inactive, and systemctl says so in its exit status.
    assert result.rc in (0, 3)
    assert f"TriggeredBy: ● {job.replace('.service', '.timer')}" in result.stdout
    # Between runs or in one; a failed last run would say "Active: failed".
    assert re.search(r"Active: (inactive \(dead\)|activating \(start\))", result.stdout), result.stdout


@pytest.mark.proves("S4.3-manual-backup")
def test_4_3_manual_backup_writes_a_complete_dump_of_the_seven_tables(host, target):
    scratch = host.check_output("mktemp -d")  # 0700, root's
    try:
        result = run_as_printed(host, target.data, "pg_dump -U insta_user insta_connect_demo > backup-$(date +%Y%m%d).sql",
                                cwd=scratch)
        assert result.rc == 0 and result.stderr == "", result.stderr
        dump = f"{scratch}/backup-{host.check_output('date +%Y%m%d')}.sql"
        assert host.check_output("ls %s", scratch) == dump.rsplit("/", 1)[1]
        created = set(host.check_output("sed -n 's/^CREATE TABLE public\\.\\([a-z_]*\\) ($/\\1/p' %s", dump).split())
        assert TABLES <= created, f"the dump lacks {TABLES - created}"
        assert host.check_output("grep -c '^-- PostgreSQL database dump complete$' %s", dump) == "1"
    finally:
        host.run("rm -rf %s", scratch)


@pytest.mark.proves("S5.2-certbot-certificates")
def test_5_2_and_12_3_certbot_certificates_names_the_domains_valid_certificate(host, target):
    domain = target.data["domain"]
    result = run_as_printed(host, target.data, "certbot certificates")
    assert result.rc == 0, result.stderr
    assert f"Certificate Name: {domain}\n" in result.stdout
    assert f"Domains: {domain}\n" in result.stdout
    assert re.search(r"Expiry Date: .* \(VALID: \d+ days?\)", result.stdout), result.stdout
    assert f"Certificate Path: /etc/letsencrypt/live/{domain}/fullchain.pem" in result.stdout


@pytest.mark.parametrize("command", [
    "tail -f /root/insta-connect-demo/logs/combined-*.log",
    "tail -f /root/insta-connect-demo/logs/error-*.log",
])
def test_7_3_and_12_1_the_apps_logs_tail_as_json_lines(host, target, command):
    result = run_as_printed(host, target.data, command)
    assert result.rc == 0 and result.stderr == "", result.stderr  # a pattern that matches no file fails here
    for line in result.stdout.splitlines():
        if line and not TAIL_HEADER.match(line):
            assert isinstance(json.loads(line), dict), line


def test_9_2_cd_leads_root_to_the_app(host, target):
    result = run_as_printed(host, target.data, "cd /root/insta-connect-demo", then="pwd -P && ls current/app/wsgi.py")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == [target.data["app_dir"], "current/app/wsgi.py"]


@pytest.mark.proves("S12.2-psql")
def test_12_2_psql_connects_as_the_app_role_without_a_password_prompt(host, target):
    result = run_as_printed(host, target.data, "psql -U insta_user -h localhost insta_connect_demo",
                            stdin="SELECT current_user, current_database();")
    assert result.rc == 0 and result.stderr == "", result.stderr
    assert re.search(r"^ insta_user +\| insta_connect_demo$", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.proves("S12.2-postgresql-status")
def test_12_2_postgresql_status_says_active(host, target):
    result = status(host, target, "systemctl status postgresql")
    assert result.rc == 0
    assert "Active: active (exited)" in result.stdout  # the umbrella unit: active while its clusters run


@pytest.mark.proves("S12.2-postgresql-log")
def test_12_2_the_postgresql_log_is_the_running_servers(host, target, psql):
    result = run_as_printed(host, target.data, "tail -f /var/log/postgresql/postgresql.log")
    assert result.rc == 0 and result.stderr == "", result.stderr
    assert all(POSTGRES_LOG_LINE.match(line) for line in result.stdout.splitlines() if line), result.stdout
    # The file the postmaster writes to now (pg_ctl opened it as its stderr), not a stale one.
    cluster = f"postgresql@{psql('SHOW server_version_num')[0][0][:2]}-main.service"
    postmaster = host.check_output("systemctl show -P MainPID %s", cluster)
    assert host.check_output("readlink /proc/%s/fd/2", postmaster) == "/var/log/postgresql/postgresql.log"


@pytest.mark.proves("S12.3-nginx-t")
def test_12_3_nginx_t_accepts_the_configuration(host, target):
    result = run_as_printed(host, target.data, "nginx -t")
    assert result.rc == 0
    assert "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok" in result.stderr
    assert "nginx: configuration file /etc/nginx/nginx.conf test is successful" in result.stderr
