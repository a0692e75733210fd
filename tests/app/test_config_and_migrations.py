"""Configuration errors (one clear line) and `python -m app.migrate`."""

import itertools
import re
import subprocess
import sys

import psycopg
import pytest

from app.config import PROCESSES, VARS, WEB, ConfigError, environment_for, load_config
from app.migrate import Migration, MigrationError, discover, migrate
from tests.app.helpers import REPO_ROOT, process_env, run_module
from tests.app.pgserver import free_port

REQUIRED = [v.name for v in VARS if v.default is None]
SEVEN_TABLES = {"users", "instagram_accounts", "instagram_pages", "access_tokens", "token_refresh_log",
                "webhook_events", "webhook_event_log"}
_fresh = itertools.count(1)


@pytest.fixture
def fresh_db_env(pg, env):
    """An empty database (no migrations applied)."""
    return {**env, "DATABASE_URL": pg.create_database(f"fresh{next(_fresh)}")}


# --- configuration ---------------------------------------------------------------------

@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_required_variable_is_named(env, name):
    with pytest.raises(ConfigError, match=rf"^{name} is missing$"):
        load_config({k: v for k, v in env.items() if k != name})
    with pytest.raises(ConfigError, match=rf"^{name} is missing$"):
        load_config({**env, name: "  "})


@pytest.mark.parametrize("name,value", [
    ("TOKEN_ENCRYPTION_KEY", "not-a-fernet-key"), ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ="),
    ("NODE_ENV", "staging"), ("PORT", "http"), ("PORT", "70000"), ("DATABASE_URL", "mysql://x/y"),
    ("LOG_LEVEL", "loud"), ("SESSION_SECRET", "short"), ("OAUTH_STATE_SECRET", "short"),
    ("OAUTH_REDIRECT_URI", "/oauth/callback"), ("REDIS_URL", "http://127.0.0.1:6379"),
    ("LOG_RETENTION_DAYS", "0"), ("AUTH_RATE_LIMIT", "lots"), ("INSTAGRAM_GRAPH_BASE", "ftp://x"),
    ("OAUTH_SCOPES", "instagram_business_basic,DROP TABLE"), ("APP_SECRET", "replace-with-the-app-secret"),
    ("DB_POOL_TIMEOUT_SECONDS", "0"), ("DB_POOL_TIMEOUT_SECONDS", "soon"), ("ANONYMOUS_SESSION_TTL_SECONDS", "10"),
    ("SESSION_IDLE_MINUTES", "1"), ("SESSION_IDLE_MINUTES", "20000"), ("SESSION_IDLE_MINUTES", "half an hour"),
])
def test_malformed_values_are_named(env, name, value):
    with pytest.raises(ConfigError, match=rf"^{name} is malformed: "):
        load_config({**env, name: value})


def test_defaults_and_parsing(env):
    config = load_config({**env, "LOG_LEVEL": "warn", "OAUTH_SCOPES": "instagram_business_manage_messages",
                          "INSTAGRAM_GRAPH_BASE": "http://127.0.0.1:9/"})
    assert config.log_level == "WARNING"
    assert config.oauth_scopes == ("instagram_business_basic", "instagram_business_manage_messages")
    assert config.instagram_graph_base == "http://127.0.0.1:9"
    assert (config.log_retention_days, config.token_refresh_window_days, config.redis_url) == (14, 10, "")


@pytest.mark.parametrize("module", ["app.migrate", "app.tokens.job", "app.webhooks.job"])
def test_entry_points_print_one_line_and_exit_non_zero(env, module):
    broken = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    result = run_module(module, broken)
    assert result.returncode == 2
    assert result.stderr == "config error: DATABASE_URL is missing\n"
    malformed = run_module(module, {**env, "DATABASE_URL": "mysql://x/y"})
    assert malformed.returncode == 2
    assert malformed.stderr.count("\n") == 1 and malformed.stderr.startswith(
        "config error: DATABASE_URL is malformed")


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_runs_on_its_own_environment_without_the_others_secrets(env, process):
    own = environment_for(process, env)
    config = load_config(own, process)
    for var in VARS:
        if var.secret and process not in var.used_by:
            assert var.name not in own and getattr(config, var.name.lower()) is None, var.name
    assert environment_for(WEB, env) == env  # the web process reads everything


@pytest.mark.parametrize("module, process", [("app.migrate", "admin"), ("app.webhooks.job", "webhook-processor")])
def test_jobs_run_with_only_their_own_environment(env, module, process):
    result = run_module(module, environment_for(process, env))
    assert result.returncode == 0, result.stderr


def test_unwritable_log_dir_is_one_line(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_module("app.migrate", {**env, "LOG_DIR": str(blocker / "logs")})
    assert result.returncode == 2
    assert result.stderr == f"config error: LOG_DIR {blocker / 'logs'} cannot be created: Not a directory\n"


@pytest.mark.proves("S11.2-env-example")
def test_env_example_lists_every_variable():
    text = (REPO_ROOT / "app" / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    assert {v.name for v in VARS} <= listed
    example = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))
    with pytest.raises(ConfigError, match="placeholder"):
        load_config(example)   # placeholders must be replaced before the app starts


def test_docs_configuration_table_lists_every_variable():
    text = (REPO_ROOT / "docs" / "app.md").read_text()
    missing = [v.name for v in VARS if f"`{v.name}`" not in text]
    assert not missing, f"docs/app.md does not describe {missing}"


# --- migrations ----------------------------------------------------------------------------

def tables(url) -> set:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_migrate_twice(fresh_db_env):
    first = run_module("app.migrate", fresh_db_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m}" for m in discover()]
    assert SEVEN_TABLES | {"schema_migrations"} <= tables(fresh_db_env["DATABASE_URL"])
    second = run_module("app.migrate", fresh_db_env)
    assert second.returncode == 0 and second.stdout == "database is up to date\n"


def test_concurrent_migrations_apply_each_file_once(fresh_db_env):
    runs = [subprocess.Popen([sys.executable, "-m", "app.migrate"], env=process_env(fresh_db_env), cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    applied = [line for out, _ in outputs for line in out.splitlines() if line.startswith("applied ")]
    assert sorted(applied) == sorted(f"applied {m}" for m in discover())
    with psycopg.connect(fresh_db_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(discover())


def test_event_totals_start_from_the_events_already_finished(fresh_db_env):
    migrations = discover()
    before = migrations[:[m.name for m in migrations].index("webhook_event_totals")]
    with psycopg.connect(fresh_db_env["DATABASE_URL"], autocommit=True) as conn:
        migrate(conn, before)
        conn.execute("""INSERT INTO webhook_events (dedupe_key, object, field, payload, status)
                        SELECT 'k' || n, 'instagram', 'comments', '{}', s
                        FROM unnest(ARRAY['done', 'done', 'failed', 'pending']) WITH ORDINALITY AS t(s, n)""")
        migrate(conn, migrations)
        totals = dict(conn.execute("SELECT outcome, events FROM webhook_event_totals").fetchall())
    assert totals == {"done": 2, "failed": 1}


def test_a_failing_migration_rolls_back_alone(fresh_db_env):
    good = Migration(1, "good", "CREATE TABLE a (id int);")
    bad = Migration(2, "bad", "CREATE TABLE b (id int); SELECT no_such_function();")
    with psycopg.connect(fresh_db_env["DATABASE_URL"], autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            migrate(conn, [good, bad])
        assert {"a", "schema_migrations"} == tables(fresh_db_env["DATABASE_URL"])   # no "b"
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
        # The lock was released: a fixed migration goes through.
        assert migrate(conn, [good, Migration(2, "bad", "CREATE TABLE b (id int);")])[0].version == 2


def test_an_edited_migration_is_refused(fresh_db_env):
    with psycopg.connect(fresh_db_env["DATABASE_URL"], autocommit=True) as conn:
        migrate(conn, [Migration(1, "one", "CREATE TABLE one (id int);")])
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(conn, [Migration(1, "one", "CREATE TABLE one (id bigint);")])


def test_migration_file_names_are_checked(tmp_path):
    (tmp_path / "1_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="0001_description.sql"):
        discover(tmp_path)


def test_migrate_reports_an_unreachable_database_in_one_line(env):
    result = run_module("app.migrate", {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"})
    assert result.returncode == 1
    assert result.stderr.startswith("migrate error: OperationalError") and "Traceback" not in result.stderr
