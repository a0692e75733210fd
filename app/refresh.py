"""Refreshing one account's long-lived token; used by the job and the API."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from app import accounts
from app.meta import REAUTH, THROTTLED, TRANSIENT, MetaError

log = logging.getLogger("app.refresh")

REFRESHED = "refreshed"
NEEDS_REAUTH = "needs_reauth"
DEFERRED = "deferred"
FAILED = "failed"
SKIPPED = "skipped"  # not due any more, or being refreshed elsewhere


@dataclass
class RefreshResult:
    account_id: str
    outcome: str
    error: MetaError | None = None


def _record(conn, run_id, account_id, attempt, outcome, started, err=None, token=None):
    conn.execute(
        """INSERT INTO token_refresh_log (run_id, account_id, attempt, outcome, error_code,
               error_subcode, http_status, message, expires_at, duration_ms)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (run_id, account_id, attempt, outcome,
         err.code if err else None, err.subcode if err else None, err.http_status if err else None,
         err.message[:500] if err else None, token.expires_at() if token else None,
         int((time.monotonic() - started) * 1000)),
    )
    level = logging.INFO if outcome in (REFRESHED, "retry") else logging.WARNING
    log.log(level, "token refresh %s", outcome, extra={
        "account_id": account_id, "attempt": attempt, "run_id": run_id, **(err.as_log() if err else {})})


def refresh_account(conn, client, cipher, account_id: str, *, retries: int, retry_base_seconds: float,
                    window_days: int | None = None, run_id: int | None = None,
                    sleep=time.sleep) -> RefreshResult:
    """One account, with retries for transient errors, in one transaction
    that holds the token row's lock (so two refreshes never race)."""
    with conn.transaction():
        ciphertext = accounts.lock_token(conn, account_id, window_days)
        if ciphertext is None:
            return RefreshResult(account_id, SKIPPED)
        started = time.monotonic()
        try:
            token = cipher.decrypt(ciphertext)
        except ValueError as exc:
            err = MetaError(str(exc), kind="unexpected")
            _record(conn, run_id, account_id, 1, FAILED, started, err)
            return RefreshResult(account_id, FAILED, err)
        for attempt in range(1, retries + 1):
            started = time.monotonic()
            try:
                new_token = client.refresh(token)
            except MetaError as err:
                if err.kind == REAUTH:
                    _record(conn, run_id, account_id, attempt, NEEDS_REAUTH, started, err)
                    accounts.mark_needs_reauth(conn, account_id, f"token refresh: {err.message}")
                    return RefreshResult(account_id, NEEDS_REAUTH, err)
                if err.kind == THROTTLED:
                    _record(conn, run_id, account_id, attempt, DEFERRED, started, err)
                    return RefreshResult(account_id, DEFERRED, err)
                if err.kind == TRANSIENT and attempt < retries:
                    _record(conn, run_id, account_id, attempt, "retry", started, err)
                    sleep(retry_base_seconds * 2 ** (attempt - 1))
                    continue
                _record(conn, run_id, account_id, attempt, FAILED, started, err)
                return RefreshResult(account_id, FAILED, err)
            accounts.store_refreshed_token(conn, account_id, new_token, cipher)
            _record(conn, run_id, account_id, attempt, REFRESHED, started, token=new_token)
            return RefreshResult(account_id, REFRESHED)
    raise AssertionError("unreachable: retries >= 1")
