"""Sessions kept in PostgreSQL: only a signed random id travels in the cookie;
logout, the operator's command, idleness and the absolute lifetime end them
on the server, whoever holds a copy of the cookie."""

import hashlib

import pytest

from tests.app.helpers import login, logout, register, run_module
from tests.app.pgserver import free_port

COOKIE = "icd_session"


def sid(client) -> str:
    return client.get_cookie(COOKIE).value.rsplit(".", 1)[0]


def row(db, client, columns: str):
    """Columns of the sessions row of the client's cookie."""
    return db.execute(f"SELECT {columns} FROM sessions WHERE id_hash = %s",
                      (hashlib.sha256(sid(client).encode()).digest(),)).fetchone()


def seconds_left(db, client) -> float:
    return row(db, client, "extract(epoch FROM expires_at - now())::float8")[0]


def holding(make_app, env, client):
    """Another browser (and app instance, as another gunicorn worker would be) with a copy of the cookie."""
    other = make_app(env).test_client()
    other.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return other


def test_logout_ends_the_session_for_a_copy_of_its_cookie_too(make_app, env, db):
    client = make_app(env).test_client()
    register(client, "captured@example.com")
    captured = holding(make_app, env, client)
    assert captured.get("/api/me").status_code == 200
    logout(client)
    assert captured.get("/api/me").status_code == 401
    assert client.get("/api/me").status_code == 401
    assert db.execute("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL").fetchone()[0] == 0


def test_the_cookie_holds_only_a_signed_id_and_the_table_only_its_hash(client, db):
    register(client, "hashed@example.com")
    cookie = client.get_cookie(COOKIE).value
    assert len(sid(client)) == 43 and len(cookie) < 80 and "user_id" not in cookie   # 32 random bytes, no data
    [(stored, data)] = db.execute("SELECT id_hash, data::text FROM sessions").fetchall()   # the anonymous one is gone
    assert stored == hashlib.sha256(sid(client).encode()).digest() and sid(client) not in data


def test_a_cookie_planted_before_login_does_not_become_logged_in(make_app, env):
    attacker = make_app(env).test_client()
    attacker.get("/login")
    victim = holding(make_app, env, attacker)
    register(victim, "fixated@example.com")
    assert victim.get("/api/me").status_code == 200
    assert attacker.get("/api/me").status_code == 401


def test_an_operator_ends_every_session_of_one_user(make_app, env):
    laptop, phone, someone_else = (make_app(env).test_client() for _ in range(3))
    register(laptop, "many@example.com")
    assert login(phone, "many@example.com").status_code == 302
    register(someone_else, "other@example.com")
    result = run_module("app.web.sessions", env, "end", "--email", "Many@Example.com")
    assert (result.returncode, result.stdout, result.stderr) == (0, "ended 2 sessions of many@example.com\n", "")
    assert laptop.get("/api/me").status_code == 401 and phone.get("/api/me").status_code == 401
    assert someone_else.get("/api/me").status_code == 200
    again = run_module("app.web.sessions", env, "end", "--email", "many@example.com")
    assert (again.returncode, again.stdout) == (0, "ended 0 sessions of many@example.com\n")


def test_the_operator_command_fails_clearly(env):
    unknown = run_module("app.web.sessions", env, "end", "--email", "nobody@example.com")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == "sessions error: no user with email nobody@example.com\n"
    unreachable = run_module("app.web.sessions", {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"},
                             "end", "--email", "nobody@example.com")
    assert unreachable.returncode == 1 and unreachable.stderr.startswith("sessions error: OperationalError")
    assert "Traceback" not in unreachable.stderr
    bare = run_module("app.web.sessions", env)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: python -m app.web.sessions")


@pytest.mark.parametrize("setting,idle_minutes", [(None, 30), ("5", 5)])
def test_a_session_idle_for_session_idle_minutes_has_ended(make_app, env, db, setting, idle_minutes):
    settings = {"SESSION_IDLE_MINUTES": setting} if setting else {}
    client = make_app({**env, **settings}).test_client()
    register(client, f"idle{idle_minutes}@example.com")

    def last_request(seconds_ago: int) -> None:  # the clock: when the session was last seen
        db.execute("UPDATE sessions SET last_seen_at = now() - make_interval(secs => %s)", (seconds_ago,))
    last_request(idle_minutes * 60 - 30)
    assert client.get("/api/me").status_code == 200     # still live, and seen now
    assert row(db, client, "now() - last_seen_at < interval '5 seconds'")[0]
    last_request(idle_minutes * 60 + 5)
    assert client.get("/api/me").status_code == 401


def test_a_session_ends_seven_days_after_login_however_active(client, db):
    response = register(client, "week@example.com")
    assert 7 * 86400 - 60 < seconds_left(db, client) <= 7 * 86400
    assert "expires=" in response.headers["Set-Cookie"].lower()   # the browser forgets it then too
    db.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("setting,ttl", [(None, 3600), ("120", 120)])
def test_anonymous_sessions_are_short_lived(make_app, env, db, setting, ttl):
    """Showing /login or /register (a CSRF token) to anyone must not keep a row for 7 days."""
    settings = {"ANONYMOUS_SESSION_TTL_SECONDS": setting} if setting else {}
    client = make_app({**env, **settings}).test_client()
    first = client.get("/login")
    assert "expires=" not in first.headers["Set-Cookie"].lower()   # a browser-session cookie
    for page in ("/login", "/register"):
        client.get(page)
        assert ttl - 5 < seconds_left(db, client) <= ttl and row(db, client, "user_id") == (None,), page
    register(client, f"ttl{ttl}@example.com")
    assert 7 * 86400 - 5 < seconds_left(db, client) <= 7 * 86400
    logout(client)   # leaves a flash message, in a new anonymous session
    assert ttl - 5 < seconds_left(db, client) <= ttl


def test_last_seen_is_written_at_most_once_a_minute(client, db):
    register(client, "seen@example.com")
    client.get("/api/me")   # stores the API's CSRF token: one write

    def version():  # xmin changes with any write of the row
        return row(db, client, "xmin::text, last_seen_at")
    before = version()
    for path in ("/api/me", "/", "/api/accounts"):
        assert client.get(path).status_code == 200
    assert version() == before
    db.execute("UPDATE sessions SET last_seen_at = now() - interval '61 seconds'")
    client.get("/api/me")
    assert row(db, client, "now() - last_seen_at < interval '5 seconds'")[0]


def test_the_webhook_processor_deletes_ended_sessions(make_app, env, db):
    live, idle, expired = (make_app(env).test_client() for _ in range(3))
    for name, client in (("live", live), ("idle", idle), ("expired", expired)):
        register(client, f"{name}@example.com")
    db.execute("UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id_hash = %s",
               (hashlib.sha256(sid(idle).encode()).digest(),))
    db.execute("UPDATE sessions SET expires_at = now() WHERE id_hash = %s",
               (hashlib.sha256(sid(expired).encode()).digest(),))
    assert run_module("app.webhooks.job", env).returncode == 0
    emails = db.execute("SELECT u.email FROM sessions s JOIN users u ON u.id = s.user_id").fetchall()
    assert emails == [("live@example.com",)]
    assert db.execute("SELECT summary->>'sessions_deleted' FROM job_runs").fetchone() == ("2",)
    assert live.get("/api/me").status_code == 200


def test_deleting_a_user_ends_their_sessions(db, client):   # by hand: the app has no such page
    register(client, "gone@example.com")
    db.execute("DELETE FROM users")
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert client.get("/api/me").status_code == 401
