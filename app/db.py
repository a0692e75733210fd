"""PostgreSQL connections: a pool per web worker, plain connections for jobs."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# What a request gets when PostgreSQL cannot be reached (pool timeout, broken
# connection, server shutting down): 503, so clients and Meta try again.
DATABASE_UNAVAILABLE = psycopg.OperationalError
UNAVAILABLE_MESSAGE = "The database is unavailable; try again later."
# Web requests should never hold a connection for long; jobs are not bound by this.
WEB_STATEMENT_TIMEOUT_MS = 10_000


def connect(config, application_name: str, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(
        config.database_url,
        autocommit=autocommit,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=application_name,
    )


def make_pool(config, application_name: str = "insta-connect-web") -> ConnectionPool:
    """A pool of autocommit connections that opens in the background, so the
    app starts (and /health can answer 503) while the database is down.

    A checkout waits at most DB_POOL_TIMEOUT_SECONDS (psycopg_pool's default
    is 30 s), then raises PoolTimeout, an OperationalError: requests then
    answer 503 (see DATABASE_UNAVAILABLE) instead of hanging."""
    pool = ConnectionPool(
        config.database_url,
        min_size=1,
        max_size=config.db_pool_max_size,
        timeout=config.db_pool_timeout_seconds,
        kwargs={
            # One statement is one transaction; code that needs more wraps
            # them in conn.transaction().  Saves BEGIN/COMMIT round trips.
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": application_name,
            "options": f"-c statement_timeout={WEB_STATEMENT_TIMEOUT_MS}",
        },
        # No check on checkout: it costs a round trip per request.  A connection
        # broken by a database restart fails one request and is then discarded.
        open=False,
        name=application_name,
    )
    pool.open(wait=False)
    return pool


def replace_broken_connections(pool: ConnectionPool, error: psycopg.OperationalError) -> None:
    """After a connection-level error: a database restart breaks every pooled
    connection at once, and the pool finds out only when one is used.  Test the
    idle rest now (psycopg_pool's check() replaces broken ones), so the next
    requests, and /health's retry, don't each draw another broken one."""
    sqlstate = getattr(error, "sqlstate", None)
    # PoolTimeout drew no connection at all; a statement or lock timeout leaves its connection intact.
    if not isinstance(error, PoolTimeout) and (sqlstate is None or sqlstate.startswith(("08", "57P"))):
        pool.check()


def database_unavailable(pool: ConnectionPool, error: psycopg.OperationalError, what: str) -> None:
    """`what` failed for want of the database (the caller answers 503)."""
    log.error("%s: database unavailable (%s)", what, type(error).__name__)
    replace_broken_connections(pool, error)
