"""Helpers for the read-only host checks. Everything they compare against
comes from the inventory's data (target.data), never from sandbox defaults."""

import pytest

TABLES = {"users", "instagram_accounts", "instagram_pages", "access_tokens", "token_refresh_log",
          "webhook_events", "webhook_event_log"}


def read_env_names(host, data: dict) -> set[str]:
    """The variable names in app_dir/.env (names only: values are never read into the test run)."""
    return set(host.check_output("cut -d= -f1 %s | grep -v '^#'", f"{data['app_dir']}/.env").split())


@pytest.fixture(scope="session")
def env_names(host, target) -> set[str]:
    return read_env_names(host, target.data)


def listeners(host, port: int) -> set[str]:
    """Local addresses with a TCP socket listening on port."""
    out = host.check_output("ss -Hltn 'sport = :%s'", str(port))
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines()}
