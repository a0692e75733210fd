"""GET /webhook verification and POST /webhook signatures, parsing, limits, dedupe."""

import json
import time

import psycopg
import pytest

from app.migrate import discover, migrate
from tests.app import helpers
from tests.app.helpers import (VERIFY_TOKEN, break_pooled_connections, count_events, dead_database_app, post_webhook,
                               refused_once)
from tests.app.pgserver import PostgresServer
from tests.fakemeta import sign

ACCOUNT = "17841400000000099"


# --- verification handshake ---------------------------------------------------------

def test_verify_returns_bare_challenge(client):
    response = client.get(f"/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1158201444"
    assert response.mimetype == "text/plain"


def test_verify_refuses_wrong_token_mode_or_missing_parts(client):
    for query in (
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}x&hub.challenge=1",
        f"hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ):
        response = client.get(f"/webhook?{query}")
        assert response.status_code == 403, query
        assert "1" not in response.get_data(as_text=True), query


# --- signatures ---------------------------------------------------------------------

@pytest.mark.proves("S1-app-parts")
def test_valid_signature_stores_event_and_answers_200(client, db):
    response = post_webhook(client, helpers.comment_payload(ACCOUNT, "c-1"))
    assert response.status_code == 200
    assert response.get_json() == {"received": 1, "stored": 1}
    row = db.execute("SELECT account_id, field, status, payload->'value'->>'id' FROM webhook_events").fetchone()
    assert row == (ACCOUNT, "comments", "pending", "c-1")


def test_missing_signature_is_401_and_stores_nothing(client, db):
    response = post_webhook(client, helpers.comment_payload(ACCOUNT, "c-1"), signature="")
    assert response.status_code == 401
    assert count_events(db) == 0


def test_bad_signatures_are_403_and_store_nothing(client, db):
    payload = helpers.comment_payload(ACCOUNT, "c-1")
    body = json.dumps(payload).encode()
    for signature in (
        sign("another-secret", body),                       # wrong key
        sign(helpers.APP_SECRET, body + b" "),              # other bytes
        "sha1=" + sign(helpers.APP_SECRET, body)[7:],       # wrong scheme
        "sha256=zz",                                         # garbage
        sign(helpers.APP_SECRET, body)[:-1],                 # truncated
    ):
        assert post_webhook(client, body, signature=signature).status_code == 403, signature
    assert count_events(db) == 0


def test_signature_is_over_the_raw_body_not_reserialised_json(client, db):
    # Same JSON value, different bytes: a verifier that re-serialises would accept it.
    body = b'{"object": "instagram",   "entry": [{"id": "1", "time": 1, "field": "comments", "value": {"id": "x"}}]}'
    assert post_webhook(client, body).status_code == 200
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert post_webhook(client, compact, signature=sign(helpers.APP_SECRET, body)).status_code == 403
    assert count_events(db) == 1


def test_uppercase_hex_signature_is_accepted(client, db):
    body = json.dumps(helpers.comment_payload(ACCOUNT, "c-up")).encode()
    signature = "sha256=" + sign(helpers.APP_SECRET, body)[7:].upper()
    assert post_webhook(client, body, signature=signature).status_code == 200


# --- bodies -----------------------------------------------------------------------------

def test_non_json_body_is_400(client, db):
    for body in (b"not json", b"\xff\xfe", b""):
        assert post_webhook(client, body).status_code == 400, body
    assert count_events(db) == 0


def test_json_without_entries_is_400(client, db):
    for payload in ([1, 2], {"object": "instagram"}, {"object": "instagram", "entry": [3]},
                    {"object": "instagram", "entry": [{"id": "1", "changes": [{"value": {}}]}]}):
        assert post_webhook(client, payload).status_code == 400, payload
    assert count_events(db) == 0


def comment_with_value(value: bytes) -> bytes:
    return (b'{"object":"instagram","entry":[{"id":"%s","time":1700000000,"field":"comments","value":%s}]}'
            % (ACCOUNT.encode(), value))


# Signed, but not something we can queue: (body, what the 400 says).
UNPROCESSABLE = {
    "nested 5,000 deep": (b"[" * 5000 + b"]" * 5000, "nested deeper than"),
    "nested 5,000 deep inside a delivery": (comment_with_value(b"[" * 5000 + b"]" * 5000), "nested deeper than"),
    # Storable, but the API and the processor would run out of stack reading it back.
    "nested 900 deep": (comment_with_value(b"[" * 900 + b"]" * 900), "nested deeper than"),
    "NaN": (comment_with_value(b'{"id":"c-1","n":NaN}'), "finite"),
    "Infinity": (comment_with_value(b'{"id":"c-1","n":Infinity}'), "finite"),
    "-Infinity in messaging": (b'{"object":"instagram","entry":[{"id":"1","messaging":[{"t":-Infinity}]}]}', "finite"),
    "1e400": (comment_with_value(b'{"id":"c-1","n":1e400}'), "finite"),
    "-1E400 as the entry time": (b'{"object":"instagram","entry":[{"id":"1","time":-1E400,"field":"comments",'
                                 b'"value":{}}]}', "finite"),
}


@pytest.mark.parametrize("case", UNPROCESSABLE)
def test_unprocessable_signed_delivery_is_400_logged_once_and_stores_nothing(client, db, caplog, case):
    body, reason = UNPROCESSABLE[case]
    response = post_webhook(client, body)
    assert response.status_code == 400 and reason in response.get_json()["error"]
    refused_once(caplog, "webhook rejected")
    assert count_events(db) == 0


def test_nesting_is_refused_beyond_64_levels():
    from app.webhooks.store import PayloadError, load_payload
    assert load_payload(b"[" * 64 + b"]" * 64)
    assert load_payload(b'{"a":' * 64 + b"1" + b"}" * 64)
    for deep in (b"[" * 65 + b"]" * 65, b'{"a":' * 65 + b"1" + b"}" * 65, ("[" * 65 + "]" * 65).encode("utf-16")):
        with pytest.raises(PayloadError, match="nested deeper than 64 levels"):
            load_payload(deep)


def test_body_over_limit_is_413_and_stores_nothing(make_app, env, db):
    client = make_app({**env, "MAX_BODY_BYTES": "2048"}).test_client()
    payload = helpers.comment_payload(ACCOUNT, "big", text="x" * 4096)
    assert post_webhook(client, payload).status_code == 413
    assert post_webhook(client, helpers.comment_payload(ACCOUNT, "small")).status_code == 200
    assert count_events(db) == 1


def test_all_three_entry_shapes_become_events(client, db):
    payload = {"object": "instagram", "entry": [
        *helpers.comment_payload(ACCOUNT, "fv-1")["entry"],
        *helpers.changes_payload(ACCOUNT, "ch-1", "ch-2")["entry"],
        *helpers.message_payload(ACCOUNT, "m-1")["entry"],
    ]}
    response = post_webhook(client, payload)
    assert response.get_json() == {"received": 4, "stored": 4}
    rows = db.execute("SELECT field, payload->'value' FROM webhook_events ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["comments", "comments", "comments", "messages"]
    assert rows[3][1]["message"]["mid"] == "m-1"


# --- dedupe -------------------------------------------------------------------------------

def test_redelivery_is_stored_once(client, db):
    payload = helpers.changes_payload(ACCOUNT, "d-1", "d-2")
    assert post_webhook(client, payload).get_json() == {"received": 2, "stored": 2}
    assert post_webhook(client, payload).get_json() == {"received": 2, "stored": 0}
    assert count_events(db) == 2


def test_dedupe_holds_when_a_redelivery_is_batched_differently(client, db):
    assert post_webhook(client, helpers.changes_payload(ACCOUNT, "b-1", "b-2")).status_code == 200
    # The same two changes, now split over two entries of one delivery, plus one new one.
    regrouped = {"object": "instagram", "entry": [
        *helpers.changes_payload(ACCOUNT, "b-2")["entry"],
        *helpers.changes_payload(ACCOUNT, "b-1", "b-3")["entry"]]}
    assert post_webhook(client, regrouped).get_json() == {"received": 3, "stored": 1}
    assert count_events(db) == 3


def test_duplicate_items_within_one_delivery(client, db):
    payload = helpers.changes_payload(ACCOUNT, "same", "same")
    assert post_webhook(client, payload).get_json() == {"received": 2, "stored": 1}


def test_text_postgresql_cannot_hold_is_stored_with_replacement_characters(client, db):
    # Valid JSON Meta could send: U+0000 and a lone surrogate, which jsonb and UTF-8 refuse as they are.
    body = (b'{"object":"instagram","entry":[{"id":"%s","time":1700000000,"changes":[{"field":"comments",'
            b'"value":{"id":"c-nul","text":"a\\u0000b \\ud800c"}}]}]}' % ACCOUNT.encode())
    assert json.loads(body)["entry"][0]["changes"][0]["value"]["text"] == "a\x00b \ud800c"
    response = post_webhook(client, body)
    assert response.status_code == 200, response.get_json()
    text = db.execute("SELECT payload->'value'->>'text' FROM webhook_events").fetchone()[0]
    assert text == "a\ufffdb \ufffdc"


def test_after_a_database_restart_only_one_delivery_finds_a_broken_connection(app, db):
    client = app.test_client()
    break_pooled_connections(app, db)
    assert post_webhook(client, helpers.comment_payload(ACCOUNT, "c-1")).status_code == 503  # Meta resends it
    for n in range(2, 5):
        assert post_webhook(client, helpers.comment_payload(ACCOUNT, f"c-{n}")).status_code == 200, n


# --- the database is down ---------------------------------------------------------------

def timed_post(client, payload):
    started = time.monotonic()
    response = post_webhook(client, payload)
    return response, time.monotonic() - started


@pytest.mark.parametrize("pool_timeout,limit", [(None, 3.0), ("0.5", 1.5)])
def test_database_unreachable_answers_503_quickly(make_app, env, pool_timeout, limit):
    """Nothing listens where DATABASE_URL points: the pool's checkout gives up
    after DB_POOL_TIMEOUT_SECONDS (default 2), not psycopg_pool's 30 s, and Meta
    gets a 503, so it delivers again later."""
    settings = {"DB_POOL_TIMEOUT_SECONDS": pool_timeout} if pool_timeout else {}
    app = dead_database_app(make_app, env, **settings)
    response, elapsed = timed_post(app.test_client(), helpers.comment_payload(ACCOUNT, "c-down"))
    assert response.status_code == 503 and elapsed < limit, elapsed
    assert "database" in response.get_json()["error"].lower()


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own, which the test may stop."""
    server = PostgresServer().start()
    try:
        url = server.create_database("own")
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, discover())
        yield server, url
    finally:
        server.stop()


def test_database_going_away_answers_503_quickly(make_app, env, own_postgres):
    """The pool holds connections when PostgreSQL stops: the broken ones fail
    at once, the reconnects time out; every delivery gets a quick 503, and
    /health says unhealthy within 2 s."""
    server, url = own_postgres
    app = make_app({**env, "DATABASE_URL": url, "DB_POOL_TIMEOUT_SECONDS": "0.5"})
    client = app.test_client()
    assert post_webhook(client, helpers.comment_payload(ACCOUNT, "c-up")).status_code == 200
    server.stop()
    for n in range(3):
        response, elapsed = timed_post(client, helpers.comment_payload(ACCOUNT, f"c-gone-{n}"))
        assert response.status_code == 503 and elapsed < 1.5, (n, elapsed)
    started = time.monotonic()
    health = client.get("/health")
    assert health.status_code == 503 and time.monotonic() - started < 2.5
    text = client.get("/metrics").get_data(as_text=True)
    assert 'insta_webhooks_received_total{outcome="db_unavailable"}' in text


def test_a_lone_low_surrogate_is_made_storable_too():
    from app.webhooks.store import load_payload
    assert load_payload(b'{"t":"a\\udc00b"}') == {"t": "a\ufffdb"}
    assert load_payload(b'{"t":"\\u00e9\\ud83d\\ude00"}') == {"t": "\u00e9\U0001F600"}  # a pair stays as it is
