"""Helpers for the read-only host checks. Everything they compare against
comes from the inventory's data (target.data), never from sandbox defaults."""

import datetime as dt

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


def next_elapse(host, timer: str) -> dt.datetime:
    raw = host.check_output("systemctl show -P NextElapseUSecRealtime %s", timer)
    assert raw, f"{timer} has no next elapse: it is not scheduled"
    elapse = dt.datetime.fromtimestamp(int(host.check_output("date -u +%%s -d %s", raw)), dt.timezone.utc)
    assert elapse > dt.datetime.now(dt.timezone.utc), f"{timer}'s next elapse {elapse} is in the past"
    return elapse
