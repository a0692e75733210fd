"""Helpers for the read-only host checks. Everything they compare against
comes from the inventory's data (target.data), never from sandbox defaults."""

import pytest

TABLES = {"users", "instagram_accounts", "instagram_pages", "access_tokens", "token_refresh_log",
          "webhook_events", "webhook_event_log"}


@pytest.fixture(scope="session")
def psql(host, target):
    """Run one query as postgres in the app's database; returns the rows as lists of strings."""
    def query(sql: str, database: str | None = None) -> list[list[str]]:
        out = host.check_output("cd / && runuser -u postgres -- psql -XAt -F '|' -d %s -c %s",
                                database or target.data["db_name"], sql)
        return [line.split("|") for line in out.splitlines()]
    return query


@pytest.fixture(scope="session")
def env_names(host, target) -> set[str]:
    """The variable names in app_dir/.env (names only: values are never read into the test run)."""
    return set(host.check_output("cut -d= -f1 %s | grep -v '^#'", f"{target.data['app_dir']}/.env").split())


def listeners(host, port: int) -> set[str]:
    """Local addresses with a TCP socket listening on port."""
    out = host.check_output("ss -Hltn 'sport = :%s'", str(port))
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines()}
