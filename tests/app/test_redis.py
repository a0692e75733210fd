"""With REDIS_URL: rate-limit counters shared by several app instances through
Redis. Sessions stay in PostgreSQL (app.web.sessions), as without it."""

import pytest
import redis

from tests.app.helpers import login, logout, register


@pytest.fixture
def redis_env(redis_server, env):
    redis.Redis.from_url(redis_server).flushdb()
    return {**env, "REDIS_URL": redis_server}


@pytest.fixture
def store(redis_server):
    return redis.Redis.from_url(redis_server)


def limit_counters(store) -> list:
    return [k for k in store.keys("*") if b"insta-connect" in k]


def test_sessions_stay_in_postgresql_and_logout_ends_them_everywhere(make_app, redis_env, store, db):
    first, second = make_app(redis_env).test_client(), make_app(redis_env).test_client()
    register(first, "shared@example.com")
    assert store.keys("*") == limit_counters(store)                      # nothing else in Redis
    assert db.execute("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL").fetchone()[0] == 1
    second.set_cookie("icd_session", first.get_cookie("icd_session").value)
    assert second.get("/").status_code == 200                # the other instance knows the session
    logout(first)
    assert second.get("/").status_code == 302                # ended server-side, not just in one browser


@pytest.mark.proves("S1-redis-optional")
def test_rate_limits_are_shared_through_redis(make_app, redis_env, store, db):
    first, second = make_app(redis_env).test_client(), make_app(redis_env).test_client()
    for i in range(5):
        assert login(first if i % 2 else second, "x@example.com", "bad password").status_code == 400
    assert login(first, "x@example.com", "bad password").status_code == 429
    assert login(second, "x@example.com", "bad password").status_code == 429
    assert limit_counters(store), f"no rate-limit counters in Redis: {store.keys('*')}"
    assert db.execute("SELECT count(*) FROM rate_limit_counters").fetchone()[0] == 0


def test_redis_over_a_unix_socket(make_app, env, redis_socket_server, db):
    """REDIS_URL=unix://... (as documented) serves the rate limits."""
    store = redis.Redis.from_url(redis_socket_server)
    store.flushdb()
    client = make_app({**env, "REDIS_URL": redis_socket_server}).test_client()
    for _ in range(5):
        assert login(client, "x@example.com", "bad password").status_code == 400
    assert login(client, "x@example.com", "bad password").status_code == 429
    assert limit_counters(store)
    assert db.execute("SELECT count(*) FROM rate_limit_counters").fetchone()[0] == 0
