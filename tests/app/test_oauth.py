"""The OAuth flow end to end against the fake Meta server, and its failure paths."""

import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from app.security import TokenCipher
from tests.app import helpers
from tests.app.helpers import ENCRYPTION_KEY, REDIRECT_URI, follow_authorize, refused_once


def account_rows(db):
    return db.execute("SELECT id, username, status, subscribed_at IS NOT NULL FROM instagram_accounts").fetchall()


def forged_state(user_id: int, age_seconds: float = 0, secret: str = helpers.STATE_SECRET) -> str:
    """A state signed the way the app signs it, as if issued `age_seconds` ago."""
    serializer = URLSafeTimedSerializer(secret, salt="oauth-state")
    signer = serializer.make_signer()
    signer.get_timestamp = lambda: int(time.time() - age_seconds)
    return signer.sign(serializer.dump_payload({"u": user_id, "n": f"nonce-{age_seconds}"})).decode()


def test_start_redirects_to_instagram_authorize(user_client, meta, make_app, env):
    client = make_app({**env, "OAUTH_SCOPES": "instagram_business_manage_comments"}).test_client()
    helpers.register(client, "scopes@example.com")
    location = client.get("/oauth/start").headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{meta.base_url}/oauth/authorize"
    query = parse_qs(parts.query)
    assert query["client_id"] == [helpers.APP_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["instagram_business_basic,instagram_business_manage_comments"]
    assert len(query["state"][0]) > 40


def test_start_needs_login(client):
    response = client.get("/oauth/start")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("shape", ["data", "flat"])
@pytest.mark.proves("S1-app-parts")
def test_full_flow_connects_account_and_subscribes(user_client, meta, db, shape):
    meta.configure(token_shape=shape)
    account = meta.add_account(username="shopfront", followers_count=1234, media_count=56)
    response = helpers.connect_account(user_client, meta, account["user_id"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Connected @shopfront" in user_client.get("/").get_data(as_text=True)

    assert account_rows(db) == [(account["user_id"], "shopfront", "active", True)]
    row = db.execute("""SELECT a.followers_count, a.media_count, a.account_type, t.token_ciphertext,
                               t.expires_at - now(), t.scopes
                        FROM instagram_accounts a JOIN access_tokens t ON t.account_id = a.id""").fetchone()
    followers, media, account_type, ciphertext, lifetime, scopes = row
    assert (followers, media, account_type) == (1234, 56, "BUSINESS")
    assert scopes == ["instagram_business_basic"]
    # expires_at = now + expires_in (60 days from the fake)
    assert abs(lifetime.total_seconds() - 60 * 86400) < 60
    # Encrypted at rest: the ciphertext is not the token, and decrypts to the long-lived one.
    token = TokenCipher(ENCRYPTION_KEY).decrypt(ciphertext)
    assert token.startswith("IGLONG-") and token not in ciphertext
    assert meta.state()["subscriptions"][account["user_id"]] == ["comments", "messages"]

    # What Meta received, in order, with the right parameters.
    paths = [c["path"] for c in meta.calls()]
    assert paths == ["/oauth/authorize", "/oauth/access_token", "/access_token", "/me", "/me/subscribed_apps"]
    token_call = meta.calls("/oauth/access_token")[0]
    assert token_call["method"] == "POST"
    assert token_call["form"]["client_secret"] == helpers.APP_SECRET
    assert token_call["form"]["redirect_uri"] == REDIRECT_URI
    assert token_call["form"]["grant_type"] == "authorization_code"
    exchange = meta.calls("/access_token")[0]["query"]
    assert exchange["grant_type"] == "ig_exchange_token" and exchange["client_secret"] == helpers.APP_SECRET
    me = meta.calls("/me")[0]
    assert me["raw_path"].startswith("/v") and me["query"]["fields"] == (
        "user_id,username,account_type,profile_picture_url,followers_count,media_count")


def test_reconnect_updates_the_same_account(connected, user_client, meta, db):
    meta.add_account(user_id=connected["user_id"], username="renamed")
    helpers.connect_account(user_client, meta, connected["user_id"])
    assert account_rows(db) == [(connected["user_id"], "renamed", "active", True)]
    assert db.execute("SELECT count(*) FROM access_tokens").fetchone()[0] == 1


def test_trailing_hash_underscore_is_stripped_from_code(user_client, meta, db):
    callback = follow_authorize(user_client, meta)
    query = parse_qs(urlsplit(callback).query)
    query["code"] = [query["code"][0] + "#_"]   # as pasted from the browser's address bar
    response = user_client.get("/oauth/callback?" + urlencode(query, doseq=True))
    assert response.status_code == 302
    assert meta.calls("/oauth/access_token")[0]["form"]["code"] == query["code"][0][:-2]
    assert len(account_rows(db)) == 1


def test_access_denied_connects_nothing(user_client, meta, db):
    meta.configure(authorize_deny=True)
    response = user_client.get(follow_authorize(user_client, meta))
    assert response.status_code == 302
    assert "did not allow access" in user_client.get("/").get_data(as_text=True)
    assert account_rows(db) == []
    assert meta.calls("/oauth/access_token") == []


def test_tampered_state_is_rejected(user_client, meta, db):
    callback = follow_authorize(user_client, meta)
    query = parse_qs(urlsplit(callback).query)
    state = query["state"][0]
    payload, timestamp, signature = state.split(".")
    flip = {"A": "B"}
    for bad in (f"{payload}.{timestamp}.{flip.get(signature[0], 'A')}{signature[1:]}",   # signature changed
                f"{payload[:-2]}{flip.get(payload[-2], 'A')}{payload[-1]}.{timestamp}.{signature}",  # payload changed
                "", "garbage",
                forged_state(1, secret="not-the-state-secret-at-all")):
        response = user_client.get("/oauth/callback?" + urlencode({"code": query["code"][0], "state": bad}))
        assert response.status_code == 400, bad
    assert account_rows(db) == [] and meta.calls("/oauth/access_token") == []


def test_hostile_state_is_a_400_with_one_warning(user_client, meta, db, caplog):
    # The edge rate-limits the callback; what gets through it is checked here.
    hostile = ["\x00", "\r\nX-Injected: 1", "a" * 100_000, "\u00e9\ufffd", "..", "%", "a.b.c", "a.b.c.d"]
    queries = [urlencode({"code": "x", "state": state}) for state in hostile]
    queries.append("code=x&state=%ED%A0%80%FF")   # not UTF-8: a lone surrogate's bytes, then 0xFF
    for query in queries:
        caplog.clear()
        response = user_client.get("/oauth/callback?" + query)
        assert response.status_code == 400, query[:40]
        assert "invalid or has expired" in response.get_data(as_text=True), query[:40]
        refused_once(caplog, "oauth callback rejected")
    assert db.execute("SELECT count(*) FROM oauth_state_nonces").fetchone()[0] == 0
    assert account_rows(db) == [] and meta.calls("/oauth/access_token") == []


def test_expired_state_is_rejected(user_client, meta, db):
    callback = follow_authorize(user_client, meta)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    user_id = db.execute("SELECT id FROM users").fetchone()[0]
    fresh = user_client.get("/oauth/callback?" + urlencode({"code": "x", "state": forged_state(user_id, 60)}))
    assert fresh.status_code == 502   # same construction within 10 minutes: accepted, then Meta refuses "x"
    old = user_client.get("/oauth/callback?" + urlencode({"code": code, "state": forged_state(user_id, 601)}))
    assert old.status_code == 400 and "expired" in old.get_data(as_text=True)
    assert account_rows(db) == []


def test_replayed_state_is_rejected(user_client, meta, db):
    callback = follow_authorize(user_client, meta)
    assert user_client.get(callback).status_code == 302
    replay = user_client.get(callback)
    assert replay.status_code == 400 and "already used" in replay.get_data(as_text=True)
    assert len(meta.calls("/oauth/access_token")) == 1


def test_state_is_bound_to_the_user_who_started(make_app, env, meta, db):
    alice, mallory = make_app(env).test_client(), make_app(env).test_client()
    helpers.register(alice, "alice@example.com")
    helpers.register(mallory, "mallory@example.com")
    callback = follow_authorize(mallory, meta)
    # Mallory tricks Alice into completing Mallory's authorization.
    assert alice.get(callback).status_code == 400
    assert account_rows(db) == []


def test_callback_needs_login(app, meta, user_client):
    callback = follow_authorize(user_client, meta)
    response = app.test_client().get(callback)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("endpoint,error", [("token", "server"), ("exchange", "expired"),
                                            ("me", "throttled"), ("exchange", "html500")])
def test_meta_errors_during_exchange_connect_nothing(user_client, meta, db, endpoint, error):
    meta.fail(endpoint, error)
    response = user_client.get(follow_authorize(user_client, meta))
    assert response.status_code == 502
    assert "did not complete the connection" in response.get_data(as_text=True)
    assert account_rows(db) == []


def test_invalid_code_is_a_502_with_the_legacy_error_shape(user_client, meta, db):
    callback = follow_authorize(user_client, meta)
    query = parse_qs(urlsplit(callback).query)
    query["code"] = ["not-a-code-meta-issued"]
    assert user_client.get("/oauth/callback?" + urlencode(query, doseq=True)).status_code == 502
    assert account_rows(db) == []


def test_meta_timeout_is_handled(user_client, meta, db, make_app, env):
    client = make_app({**env, "META_HTTP_TIMEOUT_SECONDS": "0.3"}).test_client()
    helpers.register(client, "slow@example.com")
    meta.fail("token", "timeout", delay=1.0, times=1)
    assert client.get(follow_authorize(client, meta)).status_code == 502
    assert account_rows(db) == []


def test_subscription_failure_keeps_the_account_unsubscribed(user_client, meta, db, env):
    """docs/app.md: the account and its token are kept (302 to the dashboard,
    a message, `subscribed: false`, an error logged); connecting it again
    subscribes it."""
    meta.fail("subscribe", "server")
    response = user_client.get(follow_authorize(user_client, meta))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "subscribing it to webhooks failed" in user_client.get("/").get_data(as_text=True)
    rows = account_rows(db)
    assert len(rows) == 1 and rows[0][3] is False
    account_id = rows[0][0]
    assert db.execute("SELECT count(*) FROM access_tokens WHERE account_id = %s", (account_id,)).fetchone()[0] == 1
    assert user_client.get(f"/api/accounts/{account_id}").get_json()["account"]["subscribed"] is False
    errors = "".join(p.read_text() for p in Path(env["LOG_DIR"]).glob("error-*.log"))
    assert "webhook subscription failed" in errors

    meta.clear_failures()
    assert helpers.connect_account(user_client, meta, account_id).status_code == 302
    assert account_rows(db) == [(account_id, rows[0][1], "active", True)]


def test_an_absurd_token_lifetime_connects_nothing(user_client, meta, db):
    meta.configure(expires_in=10 ** 12)   # would overflow the expiry date
    response = user_client.get(follow_authorize(user_client, meta))
    assert response.status_code == 502
    assert account_rows(db) == []
