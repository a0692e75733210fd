"""Rate-limit counters in PostgreSQL, for when REDIS_URL is unset.

Flask-Limiter's memory storage would give every gunicorn worker its own
counters, multiplying the limit by the number of workers.  This fixed-window
storage keeps one counter per key in the UNLOGGED table rate_limit_counters,
so one instance enforces the configured limit exactly.  With REDIS_URL the
limiter uses Redis instead, and several instances share it.
"""

from __future__ import annotations

import time

import psycopg
from limits.storage import Storage

SCHEME = "insta+postgresql"


class PostgresStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, pool=None, **options):
        if pool is None:
            raise ValueError("PostgresStorage needs pool=")
        self.pool = pool
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return psycopg.Error

    def _one(self, sql: str, params=()):
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._one(
            """INSERT INTO rate_limit_counters AS c (key, count, expires_at)
               VALUES (%s, %s, now() + make_interval(secs => %s))
               ON CONFLICT (key) DO UPDATE SET
                   count = CASE WHEN c.expires_at <= now() THEN excluded.count ELSE c.count + excluded.count END,
                   expires_at = CASE WHEN c.expires_at <= now() THEN excluded.expires_at ELSE c.expires_at END
               RETURNING count""",
            (key, amount, expiry),
        )[0]

    def get(self, key: str) -> int:
        row = self._one("SELECT count FROM rate_limit_counters WHERE key = %s AND expires_at > now()", (key,))
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._one(
            """SELECT extract(epoch FROM expires_at)::float8 FROM rate_limit_counters
               WHERE key = %s AND expires_at > now()""",
            (key,),
        )
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self._one("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def reset(self) -> int | None:
        with self.pool.connection() as conn:
            return conn.execute("DELETE FROM rate_limit_counters").rowcount

    def clear(self, key: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM rate_limit_counters WHERE key = %s", (key,))
