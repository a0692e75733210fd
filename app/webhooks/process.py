"""The webhook queue worker: claim, apply, finish.

Claims are committed on their own (status 'processing', locked_at, locked_by,
attempts + 1) with FOR UPDATE SKIP LOCKED, so any number of workers can run
at once without taking the same event.  Applying a batch and marking it done
happen in one transaction: a worker that dies mid-batch leaves only its
claims, which a later run takes back once they are older than
WEBHOOK_CLAIM_STALE_SECONDS.  What is applied is idempotent (rows keyed by
comment id / message id, counters bumped only for new rows), so even a slow
worker whose claim was taken back cannot count anything twice.

Failures go back to 'pending' with an exponential delay and become 'failed'
after WEBHOOK_MAX_ATTEMPTS.  Every attempt is written to webhook_event_log;
events reaching 'done' or 'failed' are also counted in webhook_event_totals,
which outlives the rows housekeeping deletes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

from app.web.sessions import delete_ended

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 3600
COMMENT_FIELDS = {"comments", "live_comments"}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Claimed:
    id: int
    account_id: str | None
    field: str
    payload: dict
    attempts: int
    entry_time: dt.datetime | None


@dataclass
class Effects:
    """What a batch writes, gathered in Python so it costs a few statements.

    Comments and messages are keyed by their id: a batch may hold the same
    comment twice (a redelivery in another shape), and the first event wins,
    as it would across batches (ON CONFLICT DO NOTHING)."""
    comments: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    last_event: dict = field(default_factory=dict)

    def add(self, event: Claimed) -> None:
        """Gather one event's effects; nothing is kept when it raises."""
        value = event.payload.get("value")
        rows, row = None, None
        if event.field in COMMENT_FIELDS:
            rows, row = self.comments, _comment_row(event, value)
        elif event.field == "messages":
            rows, row = self.messages, _message_row(event, value)
        if event.account_id:
            moment = event.entry_time or dt.datetime.now(dt.timezone.utc)
            self.last_event[event.account_id] = max(moment, self.last_event.get(event.account_id, moment))
        if rows is not None:
            rows.setdefault(row[0], row)


def _comment_row(event: Claimed, value) -> tuple:
    if not isinstance(value, dict) or not value.get("id"):
        raise ValueError("comment event without value.id")
    sender = value.get("from") if isinstance(value.get("from"), dict) else {}
    media = value.get("media") if isinstance(value.get("media"), dict) else {}
    return (str(value["id"]), event.account_id or "", event.field, media.get("id"), value.get("parent_id"),
            sender.get("id"), sender.get("username"), value.get("text"), event.id, event.entry_time)


def _message_row(event: Claimed, item) -> tuple:
    message = item.get("message") if isinstance(item, dict) else None
    if not isinstance(message, dict) or not message.get("mid"):
        raise ValueError("message event without message.mid")
    sender = item.get("sender") if isinstance(item.get("sender"), dict) else {}
    recipient = item.get("recipient") if isinstance(item.get("recipient"), dict) else {}
    stamp = item.get("timestamp")
    sent_at = dt.datetime.fromtimestamp(stamp / 1000, dt.timezone.utc) if isinstance(stamp, (int, float)) else None
    return (str(message["mid"]), event.account_id or "", sender.get("id"), recipient.get("id"),
            message.get("text"), bool(message.get("is_echo")), sent_at, event.id)


def _columns(rows: list[tuple]) -> list[list]:
    return [list(col) for col in zip(*rows, strict=True)]


def _by_key(rows: dict) -> list[list]:
    """Columns of rows keyed by id, in id order: concurrent workers then take
    the unique index's locks in one order.  Only the key is compared; the
    other fields may be None in one row and text in another."""
    return _columns([rows[key] for key in sorted(rows)])


class Processor:
    def __init__(self, conn: psycopg.Connection, config, worker: str | None = None):
        if not conn.autocommit:
            raise ValueError("the processor manages its own transactions: use an autocommit connection")
        self.conn = conn
        self.worker = worker or worker_name()
        self.batch_size = config.webhook_batch_size
        self.max_attempts = config.webhook_max_attempts
        self.retry_base = config.webhook_retry_base_seconds
        self.stale_seconds = config.webhook_claim_stale_seconds
        self.stats = defaultdict(int)

    # --- claims ------------------------------------------------------------
    def reclaim_stale(self) -> int:
        """Give back claims of workers that died; fail them if out of attempts."""
        with self.conn.transaction():
            rows = self.conn.execute(
                """UPDATE webhook_events SET
                       status = CASE WHEN attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
                       processed_at = CASE WHEN attempts >= %(max)s THEN now() END,
                       last_error = 'claim by ' || locked_by || ' went stale',
                       next_attempt_at = now(), locked_at = NULL, locked_by = NULL
                   WHERE id IN (SELECT id FROM webhook_events
                                WHERE status = 'processing'
                                  AND locked_at < now() - make_interval(secs => %(stale)s)
                                FOR UPDATE SKIP LOCKED)
                   RETURNING id, attempts, status, last_error""",
                {"max": self.max_attempts, "stale": self.stale_seconds},
            ).fetchall()
            self._log_attempts([(r[0], r[1], "failed" if r[2] == "failed" else "reclaimed", r[3]) for r in rows])
        if rows:
            log.warning("reclaimed stale webhook claims", extra={"events": len(rows), "worker": self.worker})
        self.stats["reclaimed"] += len(rows)
        return len(rows)

    def claim(self) -> list[Claimed]:
        with self.conn.transaction():
            rows = self.conn.execute(
                """UPDATE webhook_events SET status = 'processing', locked_at = now(),
                       locked_by = %(worker)s, attempts = attempts + 1
                   WHERE id IN (SELECT id FROM webhook_events
                                WHERE status = 'pending' AND next_attempt_at <= now()
                                ORDER BY next_attempt_at, id LIMIT %(limit)s
                                FOR UPDATE SKIP LOCKED)
                   RETURNING id, account_id, field, payload, attempts, entry_time""",
                {"worker": self.worker, "limit": self.batch_size},
            ).fetchall()
        return sorted((Claimed(*r) for r in rows), key=lambda e: e.id)

    # --- one batch -----------------------------------------------------------
    def process(self, batch: list[Claimed]) -> None:
        """Apply a batch in one transaction.  Whatever goes wrong with one
        event (a malformed payload, an error from PostgreSQL, a bug) fails
        that event alone, which is retried with backoff as usual: an event
        that cannot be read is set aside at once, and a batch whose
        transaction fails is applied again one event per transaction."""
        effects, good, bad = Effects(), [], []
        for event in batch:
            try:
                effects.add(event)
                good.append(event)
            except Exception as exc:
                if not isinstance(exc, (ValueError, TypeError, AttributeError)):
                    log.warning("unexpected error reading webhook event %s", event.id, exc_info=True)
                bad.append((event, f"{type(exc).__name__}: {exc}"))
        try:
            with self.conn.transaction():
                self._apply(effects)
                self._finish_done(good)
                self._finish_failed(bad)
        except Exception as exc:
            # Not only psycopg.Error: an unexpected exception must not leave
            # the whole batch claimed, to be taken back and crash again.
            if not isinstance(exc, psycopg.Error):
                log.exception("unexpected error applying %d webhook events", len(batch))
            if len(batch) > 1:
                # Find the culprit: one event per transaction.
                log.warning("batch failed, retrying events one by one", extra={"error": str(exc)})
                for event in batch:
                    self.process([event])
                return
            with self.conn.transaction():
                self._finish_failed([(batch[0], f"{type(exc).__name__}: {exc}")])

    def _apply(self, effects: Effects) -> None:
        counts = defaultdict(lambda: [0, 0])
        if effects.comments:
            for account_id, n in self.conn.execute(
                """WITH new AS (
                       INSERT INTO instagram_comments (id, account_id, field, media_id, parent_id, from_id,
                                                       from_username, text, event_id, created_at)
                       SELECT i, a, f, m, p, fi, fu, t, e, coalesce(c, now())
                       FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                   %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])
                            AS r(i, a, f, m, p, fi, fu, t, e, c)
                       ON CONFLICT (id) DO NOTHING RETURNING account_id)
                   SELECT account_id, count(*) FROM new GROUP BY account_id""",
                _by_key(effects.comments),
            ):
                counts[account_id][0] = n
        if effects.messages:
            for account_id, n in self.conn.execute(
                """WITH new AS (
                       INSERT INTO instagram_messages (mid, account_id, sender_id, recipient_id, text,
                                                       is_echo, sent_at, event_id)
                       SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                            %s::boolean[], %s::timestamptz[], %s::bigint[])
                       ON CONFLICT (mid) DO NOTHING RETURNING account_id)
                   SELECT account_id, count(*) FROM new GROUP BY account_id""",
                _by_key(effects.messages),
            ):
                counts[account_id][1] = n
        ids = sorted(effects.last_event)
        if not ids:
            return
        # Lock the accounts in one order so concurrent workers cannot deadlock.
        self.conn.execute("SELECT 1 FROM instagram_accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))
        self.conn.execute(
            """UPDATE instagram_accounts a SET comments_count = a.comments_count + d.c,
                   messages_count = a.messages_count + d.m,
                   last_event_at = greatest(a.last_event_at, d.last)
               FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::timestamptz[]) AS d(id, c, m, last)
               WHERE a.id = d.id""",
            (ids, [counts[i][0] for i in ids], [counts[i][1] for i in ids], [effects.last_event[i] for i in ids]),
        )

    def _finish_done(self, events: list[Claimed]) -> None:
        if not events:
            return
        rows = self.conn.execute(
            """UPDATE webhook_events SET status = 'done', processed_at = now(), last_error = NULL,
                   locked_at = NULL, locked_by = NULL
               WHERE id = ANY(%s) AND status = 'processing' AND locked_by = %s
               RETURNING id, attempts""",
            ([e.id for e in events], self.worker),
        ).fetchall()
        self._log_attempts([(r[0], r[1], "done", None) for r in rows])
        self.stats["done"] += len(rows)

    def _finish_failed(self, failures: list[tuple[Claimed, str]]) -> None:
        if not failures:
            return
        rows = self.conn.execute(
            """UPDATE webhook_events e SET
                   status = CASE WHEN e.attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
                   processed_at = CASE WHEN e.attempts >= %(max)s THEN now() END,
                   next_attempt_at = now() + make_interval(
                       secs => least(%(base)s * power(2, e.attempts - 1), %(cap)s)),
                   last_error = f.error, locked_at = NULL, locked_by = NULL
               FROM unnest(%(ids)s::bigint[], %(errors)s::text[]) AS f(id, error)
               WHERE e.id = f.id AND e.status = 'processing' AND e.locked_by = %(worker)s
               RETURNING e.id, e.attempts, e.status, e.last_error""",
            {"max": self.max_attempts, "base": self.retry_base, "cap": MAX_RETRY_DELAY_SECONDS,
             "ids": [ev.id for ev, _ in failures], "errors": [err[:1000] for _, err in failures],
             "worker": self.worker},
        ).fetchall()
        outcomes = [(r[0], r[1], "failed" if r[2] == "failed" else "retry", r[3]) for r in rows]
        self._log_attempts(outcomes)
        for _, _, outcome, _ in outcomes:
            self.stats[outcome] += 1
        if rows:
            log.warning("webhook events failed", extra={"events": [r[0] for r in rows], "worker": self.worker})

    def _log_attempts(self, rows: list[tuple]) -> None:
        """Log each attempt, and count those that left an event 'done' or
        'failed' in webhook_event_totals (migration 0003: insert-only, folded by
        housekeeping): one statement, in the transaction that set the status."""
        if rows:
            self.conn.execute(
                """WITH logged AS (
                       INSERT INTO webhook_event_log (event_id, attempt, outcome, error, worker)
                       SELECT i, a, o, e, %s FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::text[])
                            AS l(i, a, o, e)
                       RETURNING outcome)
                   INSERT INTO webhook_event_totals (outcome, events)
                   SELECT outcome, count(*) FROM logged WHERE outcome IN ('done', 'failed') GROUP BY outcome""",
                (self.worker, *_columns(rows)),
            )

    # --- the loop -------------------------------------------------------------
    def drain(self, deadline: float, clock) -> dict:
        """Process due events until none are left or the deadline passes."""
        self.reclaim_stale()
        while clock() < deadline:
            batch = self.claim()
            if not batch:
                break
            self.process(batch)
        return dict(self.stats)


def housekeeping(conn, config) -> dict:
    """Trim what only grows: finished events past retention (their totals
    stay, folded into one row per outcome), used OAuth nonces (states expire
    after 10 minutes anyway), expired rate-limit counters, ended sessions."""
    with conn.transaction():
        events = conn.execute(
            """DELETE FROM webhook_events WHERE status = 'done'
               AND processed_at < now() - make_interval(days => %s)""", (config.webhook_event_retention_days,)
        ).rowcount
        # Rows another run is folding at the same time are skipped: counted once.
        conn.execute(
            """WITH folded AS (DELETE FROM webhook_event_totals RETURNING outcome, events)
               INSERT INTO webhook_event_totals (outcome, events)
               SELECT outcome, sum(events) FROM folded GROUP BY outcome"""
        )
        nonces = conn.execute("DELETE FROM oauth_state_nonces WHERE used_at < now() - interval '1 day'").rowcount
        limits = conn.execute("DELETE FROM rate_limit_counters WHERE expires_at < now()").rowcount
        sessions = delete_ended(conn, config.session_idle_minutes)
    return {"events_deleted": events, "nonces_deleted": nonces, "rate_limits_deleted": limits,
            "sessions_deleted": sessions}
