"""The webhook processor: applying events, retries, concurrency, crash recovery."""

import subprocess
import sys
import time

import psycopg
import pytest

from tests.app import helpers
from tests.app.helpers import drain, post_webhook, process_env, run_module, wait_for


def statuses(db) -> dict:
    return dict(db.execute("SELECT status, count(*) FROM webhook_events GROUP BY status").fetchall())


@pytest.mark.proves("S3.3-webhook-processor-works")
def test_job_applies_comments_messages_and_account_stats(connected, user_client, env, db):
    account_id = connected["user_id"]
    post_webhook(user_client, helpers.comment_payload(account_id, "c-1"))
    post_webhook(user_client, helpers.changes_payload(account_id, "c-2"))
    post_webhook(user_client, helpers.message_payload(account_id, "m-1"))
    post_webhook(user_client, {"object": "instagram", "entry": [
        {"id": account_id, "time": 1_700_000_300, "field": "mentions", "value": {"media_id": "1"}}]})
    post_webhook(user_client, helpers.comment_payload("not-connected", "c-9"))

    result = run_module("app.webhooks.job", env)
    assert result.returncode == 0, result.stderr
    assert statuses(db) == {"done": 5}
    assert sorted(r[0] for r in db.execute("SELECT id FROM instagram_comments")) == ["c-1", "c-2", "c-9"]
    message = db.execute("SELECT mid, account_id, sender_id, text FROM instagram_messages").fetchone()
    assert message == ("m-1", account_id, "5001", "hi m-1")
    stats = db.execute("SELECT comments_count, messages_count, last_event_at IS NOT NULL FROM instagram_accounts "
                       "WHERE id = %s", (account_id,)).fetchone()
    assert stats == (2, 1, True)
    log = db.execute("SELECT outcome, attempt, count(*) FROM webhook_event_log GROUP BY 1, 2").fetchall()
    assert log == [("done", 1, 5)]
    run = db.execute("SELECT status, summary->>'done' FROM job_runs WHERE job = 'webhook_processor'").fetchone()
    assert run == ("ok", "5")
    # The account's stats are visible through the API.
    account = user_client.get(f"/api/accounts/{account_id}").get_json()["account"]
    assert (account["comments_count"], account["messages_count"]) == (2, 1)


def test_a_comment_delivered_twice_in_different_events_counts_once(connected, user_client, env, db):
    account_id = connected["user_id"]
    post_webhook(user_client, helpers.comment_payload(account_id, "c-1", time_=1_700_000_000))
    post_webhook(user_client, helpers.comment_payload(account_id, "c-1", time_=1_700_000_999))
    drain(env)
    assert statuses(db) == {"done": 2}
    assert db.execute("SELECT comments_count FROM instagram_accounts").fetchone()[0] == 1


def test_failures_back_off_exponentially_then_fail(client, env, db):
    # A comment without an id cannot be applied.
    post_webhook(client, {"object": "instagram", "entry": [
        {"id": "1784", "time": 1, "field": "comments", "value": {"text": "no id"}}]})
    post_webhook(client, helpers.comment_payload("1784", "good"))
    settings = {"WEBHOOK_MAX_ATTEMPTS": 3, "WEBHOOK_RETRY_BASE_SECONDS": 60}

    def delay_seconds():
        return db.execute("SELECT extract(epoch FROM next_attempt_at - now()) FROM webhook_events "
                          "WHERE status = 'pending'").fetchone()[0]

    drain(env, **settings)
    assert statuses(db) == {"done": 1, "pending": 1}
    assert 55 < delay_seconds() <= 60
    assert drain(env, **settings).get("retry", 0) == 0           # not due yet: untouched
    db.execute("UPDATE webhook_events SET next_attempt_at = now() WHERE status = 'pending'")
    drain(env, **settings)
    assert 115 < delay_seconds() <= 120                          # doubled
    db.execute("UPDATE webhook_events SET next_attempt_at = now() WHERE status = 'pending'")
    drain(env, **settings)
    assert statuses(db) == {"done": 1, "failed": 1}
    failed = db.execute("SELECT attempts, last_error, processed_at IS NOT NULL FROM webhook_events "
                        "WHERE status = 'failed'").fetchone()
    assert failed[0] == 3 and "without value.id" in failed[1] and failed[2]
    outcomes = [r[0] for r in db.execute(
        "SELECT l.outcome FROM webhook_event_log l JOIN webhook_events e ON e.id = l.event_id "
        "WHERE e.status = 'failed' ORDER BY l.id")]
    assert outcomes == ["retry", "retry", "failed"]


def big_delivery(client, accounts: list[str], per_account: int) -> int:
    payload = {"object": "instagram", "entry": [
        *[e for a in accounts for e in helpers.changes_payload(a, *[f"{a}-{i}" for i in range(per_account)])["entry"]]
    ]}
    response = post_webhook(client, payload)
    assert response.status_code == 200
    return response.get_json()["stored"]


def seed_accounts(db, meta, n: int) -> list[str]:
    return [helpers.seed_account(db, meta, username=f"acct{i}")[0] for i in range(n)]


def waiting_on_locks(db) -> int:
    return db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                      "AND application_name = 'insta-connect-webhook_processor'").fetchone()[0]


def test_concurrent_processors_apply_each_event_exactly_once(client, env, db, meta):
    accounts = seed_accounts(db, meta, 3)
    total = big_delivery(client, accounts, 1000)
    assert total == 3000
    job_env = process_env({**env, "WEBHOOK_BATCH_SIZE": "100"})
    with psycopg.connect(env["DATABASE_URL"]) as gate:
        # Start line: every worker blocks on its first queue statement until all are there.
        gate.execute("LOCK TABLE webhook_events IN EXCLUSIVE MODE")
        workers = [subprocess.Popen([sys.executable, "-m", "app.webhooks.job"], env=job_env,
                                    cwd=helpers.REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for _ in range(3)]
        wait_for(lambda: waiting_on_locks(db) == 3, timeout=30, what="three processors at the start line")
    for worker in workers:
        assert worker.wait(timeout=120) == 0, worker.stderr.read()
    assert statuses(db) == {"done": 3000}
    assert db.execute("SELECT count(*), count(DISTINCT event_id) FROM webhook_event_log").fetchone() == (3000, 3000)
    assert db.execute("SELECT max(attempts) FROM webhook_events").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM instagram_comments").fetchone()[0] == 3000
    assert db.execute("SELECT sum(comments_count) FROM instagram_accounts").fetchone()[0] == 3000
    # Counted once each, though the three runs folded the totals at the same time.
    assert db.execute("SELECT outcome, sum(events) FROM webhook_event_totals GROUP BY 1").fetchall() == [
        ("done", 3000)]
    runs = db.execute("SELECT count(*), sum((summary->>'done')::int) FROM job_runs "
                      "WHERE job = 'webhook_processor' AND status = 'ok'").fetchone()
    assert runs == (3, 3000)
    workers_seen = db.execute("SELECT count(DISTINCT worker) FROM webhook_event_log").fetchone()[0]
    assert workers_seen >= 2, "the work was not shared: SKIP LOCKED did not let runs overlap"


def test_a_crashed_processor_leaves_claims_that_are_taken_back(client, env, db, meta):
    accounts = seed_accounts(db, meta, 1)
    big_delivery(client, accounts, 300)
    job_env = process_env({**env, "WEBHOOK_BATCH_SIZE": "50"})
    with psycopg.connect(env["DATABASE_URL"]) as blocker:
        # Hold the account row: the worker claims a batch, then blocks applying it.
        blocker.execute("SELECT 1 FROM instagram_accounts FOR UPDATE")
        victim = subprocess.Popen([sys.executable, "-m", "app.webhooks.job"], env=job_env,
                                  cwd=helpers.REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: waiting_on_locks(db), timeout=30, what="the processor to block mid-batch")
        finally:
            victim.kill()   # SIGKILL: no cleanup of any kind
            victim.wait()
        blocker.rollback()
    claimed = db.execute("SELECT count(*), min(locked_by) FROM webhook_events WHERE status = 'processing'").fetchone()
    assert claimed[0] == 50 and claimed[1]
    dead_worker = claimed[1]

    # A run while the claims are still fresh leaves them alone.
    assert run_module("app.webhooks.job", env).returncode == 0
    assert statuses(db) == {"done": 250, "processing": 50}

    time.sleep(1.1)
    result = run_module("app.webhooks.job", {**env, "WEBHOOK_CLAIM_STALE_SECONDS": "1"})
    assert result.returncode == 0, result.stderr
    assert statuses(db) == {"done": 300}
    assert db.execute("SELECT count(*) FROM instagram_comments").fetchone()[0] == 300
    assert db.execute("SELECT comments_count FROM instagram_accounts").fetchone()[0] == 300
    reclaimed = db.execute("SELECT count(*), min(error) FROM webhook_event_log WHERE outcome = 'reclaimed'").fetchone()
    assert reclaimed[0] == 50 and dead_worker in reclaimed[1]
    assert db.execute("SELECT count(*) FROM webhook_events WHERE attempts = 2").fetchone()[0] == 50
    assert db.execute("SELECT count(*) FROM webhook_event_log WHERE outcome = 'done'").fetchone()[0] == 300


def test_claims_that_keep_crashing_end_as_failed(client, env, db):
    post_webhook(client, helpers.comment_payload("1784", "poison"))
    db.execute("UPDATE webhook_events SET status = 'processing', attempts = 5, locked_by = 'dead:1', "
               "locked_at = now() - interval '1 hour'")
    drain(env)
    assert statuses(db) == {"failed": 1}
    assert db.execute("SELECT outcome FROM webhook_event_log").fetchall() == [("failed",)]


def test_housekeeping_trims_old_rows(client, env, db):
    post_webhook(client, helpers.changes_payload("1784", "old", "new"))
    drain(env)
    db.execute("UPDATE webhook_events SET processed_at = now() - interval '40 days' "
               "WHERE payload->'value'->>'id' = 'old'")
    db.execute("INSERT INTO rate_limit_counters VALUES ('expired', 1, now() - interval '1 minute')")
    assert run_module("app.webhooks.job", env).returncode == 0
    remaining = [r[0] for r in db.execute("SELECT payload->'value'->>'id' FROM webhook_events")]
    assert remaining == ["new"]
    assert db.execute("SELECT count(*) FROM rate_limit_counters").fetchone()[0] == 0


@pytest.mark.parametrize("module", ["app.webhooks.job", "app.tokens.job"])
def test_jobs_exit_non_zero_when_the_database_is_unreachable(env, module):
    from tests.app.pgserver import free_port
    result = run_module(module, {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"})
    assert result.returncode == 1
    assert "could not run" in result.stdout


def test_one_comment_delivered_in_two_shapes_in_one_batch(connected, user_client, env, db, caplog):
    """The same comment id twice in a batch, once with `media` and once without:
    applied once, in one transaction (rows are ordered by id, not by whole row)."""
    account_id = connected["user_id"]
    post_webhook(user_client, helpers.comment_payload(account_id, "c-twice"))   # with media
    post_webhook(user_client, helpers.changes_payload(account_id, "c-twice"))   # without
    caplog.set_level("WARNING", logger="app.webhooks.process")
    stats = drain(env)
    assert stats.get("done") == 2 and statuses(db) == {"done": 2}
    assert "batch failed" not in caplog.text
    rows = db.execute("SELECT id, media_id FROM instagram_comments").fetchall()
    assert rows == [("c-twice", "1790000001")]      # the first event of the batch wins
    assert db.execute("SELECT comments_count FROM instagram_accounts").fetchone()[0] == 1


def test_an_event_that_breaks_unexpectedly_fails_alone(connected, user_client, env, db):
    """A message whose timestamp no datetime can hold (OSError, not a parse
    error) is retried with backoff on its own; the rest of its batch is applied."""
    account_id = connected["user_id"]
    bad = helpers.message_payload(account_id, "m-bad")
    bad["entry"][0]["messaging"][0]["timestamp"] = 10 ** 20
    post_webhook(user_client, helpers.changes_payload(account_id, "c-a", "c-b"))
    post_webhook(user_client, bad)
    post_webhook(user_client, helpers.message_payload(account_id, "m-good"))

    result = run_module("app.webhooks.job", {**env, "WEBHOOK_RETRY_BASE_SECONDS": "60"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(db) == {"done": 3, "pending": 1}
    pending = db.execute("SELECT attempts, last_error, extract(epoch FROM next_attempt_at - now()) "
                         "FROM webhook_events WHERE status = 'pending'").fetchone()
    assert pending[0] == 1 and pending[1].startswith("OSError") and 55 < pending[2] <= 60
    assert sorted(r[0] for r in db.execute("SELECT mid FROM instagram_messages")) == ["m-good"]
    assert db.execute("SELECT comments_count, messages_count FROM instagram_accounts").fetchone() == (2, 1)
    outcomes = db.execute("SELECT outcome, count(*) FROM webhook_event_log GROUP BY 1 ORDER BY 1").fetchall()
    assert outcomes == [("done", 3), ("retry", 1)]
