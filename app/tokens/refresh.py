"""Refreshing one account's long-lived token: for the daily job (app.tokens.job)
and when a user asks, on the dashboard or through the API."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from app import accounts
from app.tokens.meta import REAUTH, THROTTLED, TRANSIENT, UNEXPECTED, MetaError

log = logging.getLogger(__name__)

REFRESHED = "refreshed"
NEEDS_REAUTH = "needs_reauth"
DEFERRED = "deferred"
RETRY = "retry"
FAILED = "failed"
SKIPPED = "skipped"  # not due any more, or being refreshed elsewhere


@dataclass
class RefreshResult:
    account_id: str
    outcome: str
    error: MetaError | None = None


@dataclass
class _Attempt:
    """One row of token_refresh_log."""
    number: int
    outcome: str
    at: dt.datetime
    duration_ms: int
    error: MetaError | None = None
    expires_at: dt.datetime | None = None


@dataclass
class _Attempts:
    """The attempts of one refresh, written to token_refresh_log only once its
    transaction has ended: they must survive a rollback of that transaction."""
    account_id: str
    run_id: int | None
    rows: list = field(default_factory=list)
    current: int = 1
    started: float = field(default_factory=time.monotonic)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    def start(self, number: int) -> None:
        self.current, self.started, self.at = number, time.monotonic(), dt.datetime.now(dt.timezone.utc)

    def add(self, outcome: str, err: MetaError | None = None, expires_at: dt.datetime | None = None) -> None:
        self.rows.append(_Attempt(self.current, outcome, self.at, int((time.monotonic() - self.started) * 1000),
                                  err, expires_at))
        level = logging.INFO if outcome in (REFRESHED, RETRY) else logging.WARNING
        log.log(level, "token refresh %s", outcome, extra={
            "account_id": self.account_id, "attempt": self.current, "run_id": self.run_id,
            **(err.as_log() if err else {})})

    def crashed(self, exc: Exception) -> MetaError:
        """The transaction rolled back: what the current attempt did is undone,
        so its row (if any) gives way to a `failed` one naming the error."""
        log.exception("token refresh of account %s failed unexpectedly", self.account_id)
        err = MetaError(f"unexpected error: {type(exc).__name__}: {exc}", kind=UNEXPECTED)
        self.rows = [row for row in self.rows if row.number != self.current]
        self.add(FAILED, err)
        return err

    def write(self, conn) -> None:
        if not self.rows:
            return
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO token_refresh_log (run_id, account_id, attempt, outcome, error_code,
                       error_subcode, http_status, message, expires_at, duration_ms, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(self.run_id, self.account_id, row.number, row.outcome,
                  row.error.code if row.error else None, row.error.subcode if row.error else None,
                  row.error.http_status if row.error else None,
                  row.error.message[:500] if row.error else None, row.expires_at, row.duration_ms, row.at)
                 for row in self.rows],
            )


def refresh_account(conn, client, cipher, account_id: str, *, retries: int, retry_base_seconds: float,
                    window_days: int | None = None, run_id: int | None = None,
                    sleep=time.sleep) -> RefreshResult:
    """One account, with retries for transient errors, in one transaction
    that holds the token row's lock (so two refreshes never race).  Any
    exception in that transaction fails this account only (outcome
    `failed`); every attempt is then written to token_refresh_log."""
    attempts = _Attempts(account_id, run_id)
    try:
        with conn.transaction():
            result = _refresh_locked(conn, client, cipher, account_id, attempts, retries,
                                     retry_base_seconds, window_days, sleep)
    except Exception as exc:
        result = RefreshResult(account_id, FAILED, attempts.crashed(exc))
    attempts.write(conn)
    return result


# What a user-requested refresh tells the user: (HTTP status for the API, message).
REFRESH_OUTCOMES = {
    REFRESHED: (200, "Token refreshed."),
    NEEDS_REAUTH: (409, "Instagram no longer accepts this account's token: connect it again."),
    DEFERRED: (429, "Instagram is rate limiting requests; try again later."),
    FAILED: (502, "Instagram did not answer as expected; try again later."),
    SKIPPED: (409, "A refresh of this account is already in progress."),
}


def refresh_for_user(pool, client, cipher, user_id: int, account_id: str) -> RefreshResult | None:
    """A refresh asked for by the user: one attempt, no sleeping in a request.
    None when the account is not this user's."""
    with pool.connection() as conn:
        if accounts.get_account(conn, user_id, account_id) is None:
            return None
        return refresh_account(conn, client, cipher, account_id, retries=1, retry_base_seconds=0)


def _refresh_locked(conn, client, cipher, account_id, attempts: _Attempts, retries, retry_base_seconds,
                    window_days, sleep) -> RefreshResult:
    ciphertext = accounts.lock_token(conn, account_id, window_days)
    if ciphertext is None:
        return RefreshResult(account_id, SKIPPED)
    try:
        token = cipher.decrypt(ciphertext)
    except ValueError as exc:
        err = MetaError(str(exc), kind=UNEXPECTED)
        attempts.add(FAILED, err)
        return RefreshResult(account_id, FAILED, err)
    for attempt in range(1, retries + 1):
        attempts.start(attempt)
        try:
            new_token = client.refresh(token)
        except MetaError as err:
            if err.kind == REAUTH:
                accounts.mark_needs_reauth(conn, account_id, f"token refresh: {err.message}")
                attempts.add(NEEDS_REAUTH, err)
                return RefreshResult(account_id, NEEDS_REAUTH, err)
            if err.kind == THROTTLED:
                attempts.add(DEFERRED, err)
                return RefreshResult(account_id, DEFERRED, err)
            if err.kind == TRANSIENT and attempt < retries:
                attempts.add(RETRY, err)
                sleep(retry_base_seconds * 2 ** (attempt - 1))
                continue
            attempts.add(FAILED, err)
            return RefreshResult(account_id, FAILED, err)
        expires_at = accounts.store_refreshed_token(conn, account_id, new_token, cipher)
        attempts.add(REFRESHED, expires_at=expires_at)
        return RefreshResult(account_id, REFRESHED)
    raise AssertionError("unreachable: retries >= 1")
