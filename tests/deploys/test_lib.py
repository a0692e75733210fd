"""The deploys' own logic, without a host: fast tier."""

import os
import subprocess
import sys

import pytest

from deploys.lib import operations
from deploys.lib.facts import PostgresRoleVerifierDigest
from deploys.lib.operations import scram_digest_matches, scram_matches, scram_verifier, verifier_digest
from deploys.lib.postgres_plan import memory_settings, postgres_plan, unsupported_release
from deploys.lib.templates import render
from tests.app.pgserver import PostgresServer
from tests.inventory import REPO

# A verifier PostgreSQL 15 stored for the password "correct horse" (SELECT rolpassword FROM pg_authid).
PG_VERIFIER = ("SCRAM-SHA-256$4096:ubZ1316obeA5a8UraP/kEQ==$L27J2hjN+x9rlKO3VrTvK5PlvYQKjmxrpHCqCj6qbms=:"
               "KioGxYyxXEWlFyQdWYeD3W+8nqKGb8PciJ6LGfEmjNQ=")


def test_scram_verifier_round_trips():
    verifier = scram_verifier("s3cret-value")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert scram_matches(verifier, "s3cret-value")
    assert not scram_matches(verifier, "s3cret-valuf")


def test_scram_matches_a_verifier_postgres_made():
    assert scram_matches(PG_VERIFIER, "correct horse")
    assert not scram_matches(PG_VERIFIER, "correct horse ")


def test_a_verifier_digest_matches_only_its_password():
    digest = verifier_digest(PG_VERIFIER)
    assert digest.startswith("SCRAM-SHA-256$4096:ubZ1316obeA5a8UraP/kEQ==$") and "L27J2" not in digest
    assert scram_digest_matches(digest, "correct horse")
    assert not scram_digest_matches(digest, "correct horse ")


@pytest.mark.parametrize("stored", [None, "", "md5abcdef", "SCRAM-SHA-256$bad", "SCRAM-SHA-1$4096:AA==$AA==:AA=="])
def test_scram_never_matches_other_or_missing_verifiers(stored):
    assert not scram_matches(stored, "anything")


@pytest.mark.parametrize("distro, release, wanted, plan", [
    ("Debian", 12, 16, (15, False)),  # the sandbox: Debian's own major, whatever is wanted
    ("Debian", 13, 16, (17, False)),
    ("Ubuntu", 24, 16, (16, False)),  # Ubuntu 24.04's own 16
    ("Ubuntu", 22, 16, (16, True)),   # Ubuntu 22.04 ships 14: PGDG
])
def test_postgres_plan_follows_the_release(distro, release, wanted, plan):
    assert postgres_plan(distro, release, wanted) == plan


def test_ubuntu_22_04_gets_the_pgdg_source_for_jammy(on_host):
    with on_host(postgres_version=16):
        source = render("templates/etc/apt/sources.list.d/pgdg.sources.j2", codename="jammy")
    fields = dict(line.split(": ", 1) for line in source.splitlines() if line and not line.startswith("#"))
    assert fields == {"Types": "deb", "URIs": "https://apt.postgresql.org/pub/repos/apt", "Suites": "jammy-pgdg",
                      "Components": "main", "Signed-By": "/etc/apt/keyrings/pgdg.asc"}
    assert "PostgreSQL 16" in source


def test_postgres_plan_refuses_unknown_releases():
    with pytest.raises(ValueError, match="Ubuntu 20"):
        postgres_plan("Ubuntu", 20, 16)


def test_an_unsupported_release_is_refused_naming_the_supported_ones_and_the_runbook():
    refusal = unsupported_release("Ubuntu", 20)
    assert refusal.startswith("Ubuntu 20 is not a supported release")
    assert "Debian 12, Debian 13, Ubuntu 22.04, Ubuntu 24.04" in refusal and "docs/operations.md" in refusal
    assert unsupported_release("Debian", 12) is None and unsupported_release("Ubuntu", 24) is None


def test_memory_settings_scale_with_ram_and_stay_bounded():
    small = memory_settings(1024, 50, 0.25, 0.75)
    assert small == {"shared_buffers_mb": 256, "effective_cache_mb": 768, "work_mem_mb": 5,
                     "maintenance_work_mem_mb": 64}
    big = memory_settings(64 * 1024, 50, 0.25, 0.75)
    assert big["shared_buffers_mb"] == 16 * 1024 and big["work_mem_mb"] == 64
    assert big["maintenance_work_mem_mb"] == 1024


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def run_as_postgres(server, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """A command on this machine the way the deploy runs it on the host, as postgres."""
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(server.port), "PGUSER": "postgres",
           "PGDATABASE": "postgres"}
    return subprocess.run(command, shell=True, input=stdin, env=env, capture_output=True, text=True)


def role_password_commands(monkeypatch, role: str, password: str, stored_digest: str | None):
    monkeypatch.setattr(operations, "host", type("Host", (), {"get_fact": lambda self, *a, **k: stored_digest})())
    return list(operations.postgres_role_password._inner(role=role, password=password))


def test_role_password_goes_on_stdin_and_matches_the_stored_verifier(postgres, monkeypatch):
    password = "s3cret-pass"
    run_as_postgres(postgres, "psql -Xqc 'CREATE ROLE app LOGIN'").check_returncode()
    digest = lambda: PostgresRoleVerifierDigest().process(  # noqa: E731
        run_as_postgres(postgres, PostgresRoleVerifierDigest().command("app")).stdout.splitlines())
    assert digest() is None

    [command] = role_password_commands(monkeypatch, "app", password, digest())
    sql = command.connector_arguments["_stdin"]
    line = command.get_raw_value()
    assert password not in line and "SCRAM" not in line and "ALTER" not in line, line
    assert "ALTER ROLE \"app\" PASSWORD 'SCRAM-SHA-256$4096:" in sql and password not in sql
    run_as_postgres(postgres, line, sql).check_returncode()

    stored = run_as_postgres(postgres, "psql -XAtc \"SELECT rolpassword FROM pg_authid WHERE rolname = 'app'\"")
    assert scram_matches(stored.stdout.strip(), password)
    # What the deploy reads back is a digest: it matches, and holds none of the verifier's keys.
    assert scram_digest_matches(digest(), password) and not scram_digest_matches(digest(), password + "x")
    assert stored.stdout.strip().rsplit("$", 1)[1] not in digest()
    assert role_password_commands(monkeypatch, "app", password, digest()) == []


def test_a_failed_password_change_shows_and_logs_no_verifier(postgres, monkeypatch):
    [command] = role_password_commands(monkeypatch, "ghost", "s3cret-pass", None)
    sql = command.connector_arguments["_stdin"]
    keys = sql.rsplit("$", 1)[1].split("'")[0]
    failed = run_as_postgres(postgres, command.get_raw_value(), sql)
    assert failed.returncode != 0 and "ghost" in failed.stderr
    assert keys not in failed.stderr and "SCRAM" not in failed.stderr
    assert keys not in (postgres.tmp / "postgres.log").read_text()


@pytest.mark.parametrize("module", sorted(path.stem for path in (REPO / "deploys/lib").glob("[!_]*.py")))
def test_each_helper_module_imports_on_its_own(module):
    """Imported first, in a fresh interpreter: an import cycle shows whichever module starts it."""
    result = subprocess.run([sys.executable, "-c", f"import deploys.lib.{module}"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
