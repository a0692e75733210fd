"""With REDIS_URL: sessions and rate-limit counters shared by several app instances."""

import pytest
import redis

from tests.app import helpers
from tests.app.helpers import csrf_token, login, register


@pytest.fixture
def redis_env(redis_server, env):
    redis.Redis.from_url(redis_server).flushdb()
    return {**env, "REDIS_URL": redis_server}


@pytest.fixture
def store(redis_server):
    return redis.Redis.from_url(redis_server)


def session_keys(store) -> list:
    return [k.decode() for k in store.keys("session:*")]


def test_sessions_live_in_redis_and_are_shared(make_app, redis_env, store):
    first, second = make_app(redis_env).test_client(), make_app(redis_env).test_client()
    register(first, "shared@example.com")
    cookie = first.get_cookie("icd_session").value
    sid = cookie.rsplit(".", 1)[0]
    assert session_keys(store) == [f"session:{sid}"]
    assert "user_id" not in cookie and len(cookie) < 100     # only a signed id travels
    assert 0 < store.ttl(f"session:{sid}") <= 7 * 86400

    second.set_cookie("icd_session", cookie)
    assert second.get("/").status_code == 200                # the other instance knows the session

    forged = make_app(redis_env).test_client()
    forged.set_cookie("icd_session", sid + ".forgedsignature")
    assert forged.get("/").status_code == 302


def session_ttl(client, store) -> int:
    sid = client.get_cookie("icd_session").value.rsplit(".", 1)[0]
    return store.ttl(f"session:{sid}")


@pytest.mark.parametrize("setting,anonymous_ttl", [(None, 3600), ("120", 120)])
def test_anonymous_sessions_live_an_hour_and_logged_in_ones_a_week(make_app, redis_env, store, setting,
                                                                    anonymous_ttl):
    """Showing /login or /register (a CSRF token) to anyone must not keep a
    key in Redis for 7 days."""
    settings = {"ANONYMOUS_SESSION_TTL_SECONDS": setting} if setting else {}
    client = make_app({**redis_env, **settings}).test_client()
    for page in ("/login", "/register"):
        client.get(page)
        assert anonymous_ttl - 5 < session_ttl(client, store) <= anonymous_ttl, page
    register(client, f"ttl{anonymous_ttl}@example.com")
    assert 7 * 86400 - 5 < session_ttl(client, store) <= 7 * 86400
    client.post("/logout", data={"csrf_token": csrf_token(client, "/logout")})   # leaves a flash message
    assert anonymous_ttl - 5 < session_ttl(client, store) <= anonymous_ttl


def test_login_rotates_and_logout_ends_the_session_everywhere(make_app, redis_env, store):
    first, second = make_app(redis_env).test_client(), make_app(redis_env).test_client()
    first.get("/login")
    anonymous = first.get_cookie("icd_session").value
    register(first, "rotate@example.com")
    cookie = first.get_cookie("icd_session").value
    assert cookie != anonymous and f"session:{anonymous.rsplit('.', 1)[0]}" not in session_keys(store)

    second.set_cookie("icd_session", cookie)
    assert second.get("/").status_code == 200
    first.post("/logout", data={"csrf_token": csrf_token(first, "/logout")})
    assert second.get("/").status_code == 302                # ended server-side, not just in one browser


def test_rate_limits_are_shared_through_redis(make_app, redis_env, store, db):
    first, second = make_app(redis_env).test_client(), make_app(redis_env).test_client()
    for i in range(5):
        assert login(first if i % 2 else second, "x@example.com", "bad password").status_code == 400
    assert login(first, "x@example.com", "bad password").status_code == 429
    assert login(second, "x@example.com", "bad password").status_code == 429
    counters = [k for k in store.keys("*") if b"insta-connect" in k and not k.startswith(b"session:")]
    assert counters, f"no rate-limit counters in Redis: {store.keys('*')}"
    assert db.execute("SELECT count(*) FROM rate_limit_counters").fetchone()[0] == 0


def test_oauth_flow_works_with_redis_sessions(make_app, redis_env, meta, db):
    client = make_app(redis_env).test_client()
    register(client, "oauth@example.com")
    assert helpers.connect_account(client, meta).status_code == 302
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0] == 1


def test_redis_over_a_unix_socket(make_app, env, redis_socket_server, db):
    """REDIS_URL=unix://... (as documented) serves sessions and rate limits."""
    store = redis.Redis.from_url(redis_socket_server)
    store.flushdb()
    client = make_app({**env, "REDIS_URL": redis_socket_server}).test_client()
    register(client, "socket@example.com")
    assert session_keys(store) and client.get("/").status_code == 200
    for _ in range(5):
        assert login(client, "x@example.com", "bad password").status_code == 400
    assert login(client, "x@example.com", "bad password").status_code == 429
    assert [k for k in store.keys("*") if b"insta-connect" in k and not k.startswith(b"session:")]
    assert db.execute("SELECT count(*) FROM rate_limit_counters").fetchone()[0] == 0
