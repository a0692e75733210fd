"""What /health, /metrics and /alerts read from the database, and the alert rules."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from app.db import replace_broken_connections

PROBE_TIMEOUT_SECONDS = 2.0
QUEUE_STALL_SECONDS = 15 * 60
REFRESH_RUN_MAX_AGE_SECONDS = 26 * 3600
EXPIRY_WARNING_DAYS = 7
LIST_LIMIT = 100
SUBSCRIBE_GRACE_SECONDS = 60  # an account connected longer ago than this should be subscribed


@contextlib.contextmanager
def probe(pool, timeout: float = PROBE_TIMEOUT_SECONDS):
    """A pooled connection with short waits, so a dead database is reported
    in about `timeout` seconds instead of hanging the request."""
    with pool.connection(timeout=timeout) as conn, conn.transaction():
        conn.execute(f"SET LOCAL statement_timeout = {max(int(timeout * 1000), 1)}")
        yield conn


def database_answers(pool) -> bool:
    """True when PostgreSQL answers within PROBE_TIMEOUT_SECONDS in all."""
    deadline = time.monotonic() + PROBE_TIMEOUT_SECONDS
    # Twice if need be: the first failure may only be a pooled connection that
    # a database restart broke (the pool's others are then checked too).  Both
    # share the budget.
    for _ in range(2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            with probe(pool, remaining) as conn:
                conn.execute("SELECT 1")
            return True
        except PoolTimeout:  # no connection within the budget: no point in asking again
            return False
        except psycopg.OperationalError as exc:
            replace_broken_connections(pool, exc)
            continue
        except Exception:  # unhealthy, whatever the reason
            return False
    return False


@dataclass
class Snapshot:
    events_by_status: dict
    oldest_due_age: float | None
    failed_recent: int
    event_totals: dict
    refresh_outcomes: dict
    oldest_token_age: float | None
    tokens_expiring: int
    expiring: list
    needs_reauth: list
    unsubscribed: list
    accounts_by_status: dict
    last_refresh_run: dict | None


SNAPSHOT_SQL = f"""
SELECT
  (SELECT coalesce(json_object_agg(status, n), '{{}}')
     FROM (SELECT status, count(*) AS n FROM webhook_events GROUP BY status) s) AS events_by_status,
  -- How long the oldest due event has waited for a processor: since it became
  -- due (received, or its retry delay ended) or since it was claimed.  Events
  -- still waiting out a retry delay are not late.
  (SELECT extract(epoch FROM now() - least(
       (SELECT min(next_attempt_at) FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= now()),
       (SELECT min(locked_at) FROM webhook_events WHERE status = 'processing')))::float8) AS oldest_due_age,
  (SELECT count(*) FROM webhook_events
     WHERE status = 'failed' AND processed_at > now() - interval '24 hours') AS failed_recent,
  (SELECT coalesce(json_object_agg(outcome, n), '{{}}')
     FROM (SELECT outcome, sum(events) AS n FROM webhook_event_totals GROUP BY outcome) s) AS event_totals,
  (SELECT coalesce(json_object_agg(outcome, n), '{{}}')
     FROM (SELECT outcome, count(*) AS n FROM token_refresh_log GROUP BY outcome) s) AS refresh_outcomes,
  (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM access_tokens) AS oldest_token_age,
  (SELECT count(*) FROM access_tokens t JOIN instagram_accounts a ON a.id = t.account_id
     WHERE a.status = 'active'
       AND t.expires_at < now() + interval '{EXPIRY_WARNING_DAYS} days') AS tokens_expiring,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT a.id, a.username, t.expires_at, t.expires_at <= now() AS expired
     FROM access_tokens t JOIN instagram_accounts a ON a.id = t.account_id
     WHERE a.status = 'active' AND t.expires_at < now() + interval '{EXPIRY_WARNING_DAYS} days'
     ORDER BY t.expires_at LIMIT {LIST_LIMIT}) x) AS expiring,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT id, username, status_reason FROM instagram_accounts
     WHERE status = 'needs_reauth' ORDER BY id LIMIT {LIST_LIMIT}) x) AS needs_reauth,
  -- Connected, but Meta never confirmed the webhook subscription: no events arrive.
  -- The grace covers the callback, which subscribes just after storing the account.
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT id, username FROM instagram_accounts
     WHERE status = 'active' AND subscribed_at IS NULL
       AND connected_at < now() - interval '{SUBSCRIBE_GRACE_SECONDS} seconds'
     ORDER BY id LIMIT {LIST_LIMIT}) x) AS unsubscribed,
  (SELECT coalesce(json_object_agg(status, n), '{{}}')
     FROM (SELECT status, count(*) AS n FROM instagram_accounts GROUP BY status) s) AS accounts_by_status,
  (SELECT row_to_json(r) FROM (
     SELECT id, status, started_at, finished_at,
            extract(epoch FROM now() - finished_at)::float8 AS age_seconds
     FROM job_runs WHERE job = 'refresh_tokens' AND status <> 'running'
     ORDER BY finished_at DESC LIMIT 1) r) AS last_refresh_run
"""


def take_snapshot(pool) -> Snapshot:
    with probe(pool) as conn:
        row = conn.cursor(row_factory=dict_row).execute(SNAPSHOT_SQL).fetchone()
    return Snapshot(**row)


def _alert(name: str, severity: str, message: str, **details) -> dict:
    return {"name": name, "severity": severity, "message": message, **details}


def evaluate_alerts(snapshot: Snapshot | None) -> list[dict]:
    """The active alerts; `None` means the database did not answer."""
    if snapshot is None:
        return [_alert("database_unreachable", "critical", "PostgreSQL does not answer")]
    alerts = []
    age = snapshot.oldest_due_age
    if age is not None and age > QUEUE_STALL_SECONDS:
        alerts.append(_alert("webhook_queue_stalled", "critical",
                             f"the oldest due webhook event has waited {int(age // 60)} minutes for the processor",
                             oldest_pending_age_seconds=int(age)))
    if snapshot.failed_recent:
        alerts.append(_alert("webhook_events_failed", "warning",
                             f"{snapshot.failed_recent} webhook events failed in the last 24 hours",
                             count=snapshot.failed_recent))
    run = snapshot.last_refresh_run
    if run is None:
        # Only once a token has waited longer than a run may be late.
        if (snapshot.oldest_token_age or 0) > REFRESH_RUN_MAX_AGE_SECONDS:
            alerts.append(_alert("token_refresh_stale", "warning",
                                 "the token refresh job has never completed"))
    else:
        if run["status"] == "failed":
            alerts.append(_alert("token_refresh_failed", "critical",
                                 f"the last token refresh run (#{run['id']}) failed", run_id=run["id"]))
        if run["age_seconds"] > REFRESH_RUN_MAX_AGE_SECONDS:
            alerts.append(_alert("token_refresh_stale", "warning",
                                 f"the last token refresh run finished {int(run['age_seconds'] // 3600)} hours ago",
                                 finished_at=run["finished_at"]))
    for account in snapshot.needs_reauth:
        alerts.append(_alert("account_needs_reauth", "warning",
                             f"Instagram account {account['username']} must be connected again",
                             account_id=account["id"], reason=account["status_reason"]))
    for account in snapshot.unsubscribed:
        alerts.append(_alert("account_not_subscribed", "warning",
                             f"Instagram account {account['username']} gets no webhooks (its subscription "
                             "failed); connect it again", account_id=account["id"]))
    for token in snapshot.expiring:
        if token["expired"]:
            alerts.append(_alert("token_expired", "critical",
                                 f"the token of {token['username']} has expired",
                                 account_id=token["id"], expires_at=token["expires_at"]))
        else:
            alerts.append(_alert("token_expiring", "warning",
                                 f"the token of {token['username']} expires within {EXPIRY_WARNING_DAYS} days",
                                 account_id=token["id"], expires_at=token["expires_at"]))
    return alerts
