"""/health, /metrics and /alerts."""

import re
import time

import pytest

from tests.app import helpers
from tests.app.helpers import break_pooled_connections, dead_database_app, drain, post_webhook, seed_account

ISO_MS_Z = helpers.ISO_MS_Z


@pytest.mark.proves("S1-app-parts", "S7.1-health")
def test_health_has_exactly_the_documented_shape(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["status", "timestamp", "uptime", "environment"]
    assert body["status"] == "healthy" and body["environment"] == "development"
    assert ISO_MS_Z.match(body["timestamp"]), body["timestamp"]
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    time.sleep(0.05)
    assert client.get("/health").get_json()["uptime"] >= body["uptime"] + 40


def test_health_is_503_fast_when_the_database_does_not_answer(make_app, env):
    client = dead_database_app(make_app, env).test_client()
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 2.5   # docs/app.md: within 2 s
    assert response.status_code == 503
    body = response.get_json()
    assert list(body) == ["status", "timestamp", "uptime", "environment"]
    assert body["status"] == "unhealthy"


def test_health_stays_healthy_after_a_database_restart_broke_every_pooled_connection(app, db):
    client = app.test_client()
    assert break_pooled_connections(app, db) >= 3
    assert client.get("/health").status_code == 200
    assert client.get("/health").status_code == 200


@pytest.mark.proves("S7.2-metrics")
def test_metrics_prometheus_text(client, db):
    post_webhook(client, helpers.changes_payload("1784", "a", "b"))
    post_webhook(client, helpers.changes_payload("1784", "a"))
    post_webhook(client, b"{}", signature="sha256=00")
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    for line in (
        'insta_http_requests_total{method="GET",route="/health",status="200"}',
        'insta_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/webhook"}',
        'insta_webhooks_received_total{outcome="bad_signature"}',
        "insta_database_up 1.0",
        'insta_webhook_events{status="pending"} 2.0',
        "insta_webhook_queue_depth 2.0",
        "insta_webhooks_processed_total 0.0",
        "insta_webhooks_failed_total 0.0",
        'insta_token_refresh_attempts_total{outcome="refreshed"} 0.0',
        "insta_tokens_expiring_soon 0.0",
    ):
        assert line in text, line
    age = float(re.search(r"^insta_webhook_oldest_pending_age_seconds (\S+)$", text, re.M).group(1))
    assert 0 <= age < 60


def test_metrics_json_on_accept(client, db, meta):
    seed_account(db, meta, username="soon", expires_in_days=3)
    response = client.get("/metrics", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.is_json
    metrics = response.get_json()["metrics"]
    assert metrics["insta_tokens_expiring_soon"]["samples"][0]["value"] == 1
    assert metrics["insta_database_up"]["samples"][0]["value"] == 1
    assert metrics["insta_webhook_events"]["type"] == "gauge"
    requests_family = metrics["insta_http_requests"]
    assert requests_family["type"] == "counter"
    assert all({"name", "labels", "value"} <= set(s) for s in requests_family["samples"])


def test_metrics_without_database(make_app, env):
    client = dead_database_app(make_app, env).test_client()
    text = client.get("/metrics").get_data(as_text=True)
    assert "insta_database_up 0.0" in text and "insta_webhook_queue_depth" not in text


def alerts(client) -> dict:
    response = client.get("/alerts")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    for alert in body["alerts"]:
        assert {"name", "severity", "message"} <= set(alert) and alert["severity"] in ("warning", "critical")
    return body


def names(body) -> list:
    return sorted(a["name"] for a in body["alerts"])


@pytest.mark.proves("S7.3-alerts")
def test_no_alerts_on_a_healthy_empty_system(client):
    body = alerts(client)
    assert body["status"] == "ok" and body["alerts"] == [] and ISO_MS_Z.match(body["timestamp"])


def test_alert_when_the_database_is_unreachable(make_app, env):
    body = alerts(dead_database_app(make_app, env).test_client())
    assert body["status"] == "alerting"
    assert body["alerts"] == [{"name": "database_unreachable", "severity": "critical",
                               "message": "PostgreSQL does not answer"}]


def oldest_pending_age(client) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return float(re.search(r"^insta_webhook_oldest_pending_age_seconds (\S+)$", text, re.M).group(1))


def test_alert_when_the_oldest_pending_webhook_is_over_15_minutes(client, db):
    post_webhook(client, helpers.changes_payload("1784", "late"))
    db.execute("UPDATE webhook_events SET received_at = now() - interval '14 minutes', "
               "next_attempt_at = now() - interval '14 minutes'")
    assert names(alerts(client)) == []
    db.execute("UPDATE webhook_events SET received_at = now() - interval '16 minutes', "
               "next_attempt_at = now() - interval '16 minutes'")
    body = alerts(client)
    assert names(body) == ["webhook_queue_stalled"]
    assert body["alerts"][0]["severity"] == "critical" and "16 minutes" in body["alerts"][0]["message"]
    assert 16 * 60 <= oldest_pending_age(client) < 17 * 60


def test_events_waiting_out_a_retry_delay_are_not_a_stall(client, db):
    """An old event whose retry is not due yet waits as designed; once due,
    it counts from when it became due, not from when it was received."""
    post_webhook(client, helpers.changes_payload("1784", "retrying"))
    db.execute("UPDATE webhook_events SET received_at = now() - interval '3 hours', attempts = 4, "
               "next_attempt_at = now() + interval '30 minutes'")
    assert names(alerts(client)) == [] and oldest_pending_age(client) == 0
    db.execute("UPDATE webhook_events SET next_attempt_at = now() - interval '2 minutes'")
    assert names(alerts(client)) == []
    assert 120 <= oldest_pending_age(client) < 180
    db.execute("UPDATE webhook_events SET next_attempt_at = now() - interval '20 minutes'")
    assert names(alerts(client)) == ["webhook_queue_stalled"]


def test_a_claim_held_over_15_minutes_is_a_stall(client, db):
    post_webhook(client, helpers.changes_payload("1784", "stuck"))
    db.execute("UPDATE webhook_events SET status = 'processing', locked_by = 'hung:1', attempts = 1, "
               "locked_at = now() - interval '1 minute'")
    assert names(alerts(client)) == []
    db.execute("UPDATE webhook_events SET locked_at = now() - interval '20 minutes'")
    assert names(alerts(client)) == ["webhook_queue_stalled"]


def test_alert_when_webhooks_failed(client, db):
    post_webhook(client, helpers.changes_payload("1784", "x"))
    db.execute("UPDATE webhook_events SET status = 'failed', processed_at = now()")
    body = alerts(client)
    assert names(body) == ["webhook_events_failed"] and body["alerts"][0]["count"] == 1


def test_alerts_about_the_token_refresh_run(client, db, meta):
    seed_account(db, meta, username="steady", expires_in_days=30, issued_hours_ago=1)
    assert names(alerts(client)) == []   # the token is young: no run is late yet
    db.execute("UPDATE access_tokens SET created_at = now() - interval '27 hours'")
    assert names(alerts(client)) == ["token_refresh_stale"]
    db.execute("INSERT INTO job_runs (job, status, started_at, finished_at) "
               "VALUES ('refresh_tokens', 'ok', now() - interval '1 hour', now() - interval '1 hour')")
    assert names(alerts(client)) == []
    db.execute("INSERT INTO job_runs (job, status, started_at, finished_at) "
               "VALUES ('refresh_tokens', 'failed', now() - interval '5 minutes', now())")
    assert names(alerts(client)) == ["token_refresh_failed"]
    db.execute("UPDATE job_runs SET status = 'ok', finished_at = now() - interval '27 hours'")
    assert names(alerts(client)) == ["token_refresh_stale"]


def test_alerts_about_accounts_and_tokens(client, db, meta):
    reauth, _ = seed_account(db, meta, username="lapsed", status="needs_reauth", expires_in_days=3)
    soon, _ = seed_account(db, meta, username="soon", expires_in_days=3)
    seed_account(db, meta, username="fine", expires_in_days=30)
    expired, _ = seed_account(db, meta, username="gone", expires_in_days=-1)
    db.execute("INSERT INTO job_runs (job, status, finished_at) VALUES ('refresh_tokens', 'ok', now())")
    body = alerts(client)
    by_name = {(a["name"], a.get("account_id")): a for a in body["alerts"]}
    assert set(by_name) == {("account_needs_reauth", reauth), ("token_expiring", soon), ("token_expired", expired)}
    assert "lapsed" in by_name[("account_needs_reauth", reauth)]["message"]
    assert by_name[("token_expired", expired)]["severity"] == "critical"
    assert by_name[("token_expiring", soon)]["expires_at"]


def test_alert_for_an_account_whose_webhook_subscription_failed(client, db, meta):
    db.execute("INSERT INTO job_runs (job, status, finished_at) VALUES ('refresh_tokens', 'ok', now())")
    quiet, _ = seed_account(db, meta, username="quiet", expires_in_days=30)
    assert names(alerts(client)) == []  # just connected: the callback may still be subscribing it
    db.execute("UPDATE instagram_accounts SET connected_at = now() - interval '2 minutes'")
    body = alerts(client)
    assert [(a["name"], a["account_id"], a["severity"]) for a in body["alerts"]] == \
        [("account_not_subscribed", quiet, "warning")]
    assert "quiet" in body["alerts"][0]["message"]
    db.execute("UPDATE instagram_accounts SET subscribed_at = now()")
    assert names(alerts(client)) == []


def test_refresh_job_failure_shows_up_in_alerts_and_metrics(client, env, db, meta):
    seed_account(db, meta, username="weird")
    meta.fail("refresh", {"status": 400, "code": 100, "message": "bad"})
    assert helpers.run_module("app.tokens.job", env).returncode == 1
    assert "token_refresh_failed" in names(alerts(client))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'insta_token_refresh_attempts_total{outcome="failed"} 1.0' in text
    assert "insta_token_refresh_last_run_ok 0.0" in text


def test_processed_and_failed_are_totals_that_survive_housekeeping(client, env, db):
    """insta_webhooks_processed_total / _failed_total are counters: they never
    go down, not when housekeeping deletes old events either."""
    post_webhook(client, helpers.changes_payload("1784", "a", "b", "c"))
    post_webhook(client, {"object": "instagram", "entry": [
        {"id": "1784", "time": 1, "field": "comments", "value": {"text": "no id"}}]})
    drain(env, WEBHOOK_MAX_ATTEMPTS=1)

    def totals():
        metrics = client.get("/metrics", headers={"Accept": "application/json"}).get_json()["metrics"]
        families = {name: metrics[name] for name in ("insta_webhooks_processed", "insta_webhooks_failed")}
        assert {f["type"] for f in families.values()} == {"counter"}
        return tuple(f["samples"][0]["value"] for f in families.values())

    assert totals() == (3, 1)
    db.execute("UPDATE webhook_events SET processed_at = now() - interval '40 days'")
    assert helpers.run_module("app.webhooks.job", env).returncode == 0   # housekeeping
    assert db.execute("SELECT status, count(*) FROM webhook_events GROUP BY 1").fetchall() == [("failed", 1)]
    assert totals() == (3, 1)
    assert db.execute("SELECT count(*) FROM webhook_event_totals").fetchone()[0] == 2   # folded
    post_webhook(client, helpers.changes_payload("1784", "d"))
    drain(env)
    assert totals() == (4, 1)
    text = client.get("/metrics").get_data(as_text=True)
    assert "insta_webhooks_processed_total 4.0" in text and "insta_webhooks_failed_total 1.0" in text
