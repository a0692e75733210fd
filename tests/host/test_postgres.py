"""deploys/postgres.py, as the host shows it. Read-only: safe against production."""

import re

import pytest

from tests.host.conftest import (TABLES, assert_exposure_at_most, assert_owner_and_mode, assert_settings, listeners,
                                  main_process_status, unit_properties)

UBUNTU_RELEASES = (22, 24)


def test_major_follows_the_release(host, target, psql):
    """Debian keeps its own major (docs/operations.md), read from the release's archive
    (what its `postgresql` package depends on), not from the deploy's own table."""
    distro, release = host.system_info.distribution, int(host.system_info.release.split(".")[0])
    if distro == "debian":
        major = re.search(r"Depends: postgresql-(\d+)$", host.check_output("apt-cache depends postgresql"), re.M)[1]
    else:
        assert distro == "ubuntu" and release in UBUNTU_RELEASES, f"no expectation for {distro} {release}"
        major = target.data["postgres_version"]
    assert psql("SHOW server_version_num")[0][0][:2] == str(major)


@pytest.mark.proves("S4.1-localhost-5432", "S10.1-postgres-closed")
def test_listens_on_loopback_only(host, target):
    assert listeners(host, target.data["db_port"]) <= {"127.0.0.1", "[::1]"}
    assert listeners(host, target.data["db_port"]), "PostgreSQL is not listening"


def test_password_logins_use_scram_from_loopback_only(psql):
    assert psql("SHOW password_encryption") == [["scram-sha-256"]]
    rules = psql("SELECT type, coalesce(address, ''), auth_method, array_to_string(user_name, ',') "
                 "FROM pg_hba_file_rules")
    assert rules, "pg_hba.conf has no rules"
    for kind, address, method, users in rules:
        assert method == "scram-sha-256" or (method == "peer" and users == "postgres"), (kind, address, method)
        assert kind == "local" or address in ("127.0.0.1", "::1"), (kind, address)
    assert psql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == [["0"]]


def test_memory_is_sized_from_ram(host, target, psql):
    ram_mb = int(host.check_output("awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo"))
    # The documented sizing: shares of RAM, work_mem a slice per connection within 4-64 MiB,
    # maintenance_work_mem a sixteenth of RAM within 64-1024 MiB.
    wanted = {
        "shared_buffers": int(ram_mb * target.data["postgres_shared_buffers_ratio"]),
        "effective_cache_size": int(ram_mb * target.data["postgres_effective_cache_ratio"]),
        "work_mem": min(64, max(4, ram_mb // (4 * target.data["postgres_max_connections"]))),
        "maintenance_work_mem": min(1024, max(64, ram_mb // 16)),
    }
    for setting, mb in wanted.items():
        assert psql(f"SELECT pg_size_bytes(current_setting('{setting}')) / 1048576") == [[str(mb)]], setting
    assert psql("SELECT count(*) FROM pg_settings WHERE pending_restart") == [["0"]]


@pytest.mark.proves("S4.1-database-and-user")
def test_role_owns_the_database_and_is_no_superuser(target, psql):
    user = target.data["db_user"]
    assert psql(f"SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, left(rolpassword, 14) "
                f"FROM pg_authid WHERE rolname = '{user}'") == [["t", "f", "f", "f", "SCRAM-SHA-256$"]]
    assert psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{target.data['db_name']}'") \
        == [[user]]


@pytest.mark.proves("S4.2-tables")
def test_all_seven_tables_exist_owned_by_the_role(target, psql):
    rows = psql("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")
    tables = {name: owner for name, owner in rows}
    assert TABLES <= set(tables), f"missing: {TABLES - set(tables)}"
    assert {tables[name] for name in TABLES} == {target.data["db_user"]}


@pytest.mark.proves("S4.1-connection-string")
def test_the_apps_database_url_logs_in(host, target):
    # The password in .env matches the role's; psql reads it from the environment, never a command line.
    out = host.run("set -a && . %s && cd / && psql \"$DATABASE_URL\" -XAtc 'SELECT current_user'",
                   f"{target.data['app_dir']}/.env")
    assert out.rc == 0 and out.stdout.strip() == target.data["db_user"], out.stderr
    # The document's form, localhost:5432, matched on the host: the password never reaches the test run.
    form = f"^DATABASE_URL=postgresql://{target.data['db_user']}:[^@]+@localhost:{target.data['db_port']}/" \
           f"{target.data['db_name']}$"
    assert host.run("grep -qE %s %s", form, f"{target.data['app_dir']}/.env").rc == 0, f"DATABASE_URL is not {form}"


def test_cluster_runs_in_its_sandbox(host, target, psql):
    unit = f"postgresql@{psql('SHOW server_version_num')[0][0][:2]}-main.service"
    assert_exposure_at_most(host, unit, target.data["daemon_exposure_max"], "daemon_exposure_max")
    props = unit_properties(host, unit, "ProtectSystem", "ReadWritePaths", "NoNewPrivileges", "MemoryDenyWriteExecute")
    # JIT needs writable-then-executable memory: none denied, and a JIT-compiled query runs.
    assert_settings(props, {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "MemoryDenyWriteExecute": "no"},
                    f"systemctl show {unit}")
    data_directory = psql("SHOW data_directory")[0][0]
    assert data_directory in props["ReadWritePaths"].split(), \
        f"{unit} may not write its data directory {data_directory}: ReadWritePaths={props['ReadWritePaths']}"
    plan = psql("SET jit_above_cost = 0; EXPLAIN (ANALYZE) SELECT sum(n) FROM generate_series(1, 1000) AS n")
    if psql("SELECT current_setting('jit')::bool AND pg_jit_available()") == [["t"]]:
        assert ["JIT:"] in plan, plan
    # The running postmaster, not just the unit: it was restarted into the sandbox.
    assert main_process_status(host, unit)["NoNewPrivs"] == "1"


@pytest.mark.proves("S4.3-manual-backup", "S12.2-psql")
def test_root_runs_the_documents_psql_and_pg_dump_without_a_password_prompt(host, target):
    """Sections 4.3 and 12.2's commands, with -w (never prompt) so a missing password fails instead of waiting."""
    data = target.data
    pgpass = host.file("/root/.pgpass")
    assert_owner_and_mode(pgpass, "root", "root", 0o600)
    connect = f"-U {data['db_user']} -h localhost {data['db_name']}"
    assert host.check_output(f"cd / && psql -w {connect} -XAtc 'SELECT 1'") == "1"
    dump = host.run(f"cd / && pg_dump -w -U {data['db_user']} {data['db_name']} --schema-only | grep -c 'CREATE TABLE'")
    assert dump.rc == 0 and int(dump.stdout) >= 7, dump
