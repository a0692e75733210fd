"""Accounts: register/login/logout pages, password hashing, session cookies, CSRF, rate limits."""

import time

import pytest

from tests.app.helpers import PASSWORD, csrf_token, dead_database_app, login, logout, refused_once, register


def session_cookie_header(response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("icd_session=")]
    assert headers, "no session cookie was set"
    return headers[-1]


@pytest.mark.proves("S1-app-parts")
def test_pages_render(client):
    for path in ("/register", "/login", "/logout"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "<form" in response.get_data(as_text=True) or path == "/logout"


def test_dashboard_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_register_stores_a_scrypt_hash_and_logs_in(client, db):
    register(client, "new@example.com")
    stored = db.execute("SELECT password_hash FROM users WHERE email = 'new@example.com'").fetchone()[0]
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    page = client.get("/")
    assert page.status_code == 200 and "new@example.com" in page.get_data(as_text=True)


def test_register_rejects_duplicates_case_insensitively_and_weak_input(client, db):
    register(client, "dup@example.com")
    logout(client)
    for email, password, confirm in (("DUP@example.com", PASSWORD, PASSWORD), ("x@example.com", "short", "short"),
                                     ("not-an-email", PASSWORD, PASSWORD), ("y@example.com", PASSWORD, "other pass")):
        response = client.post("/register", data={"email": email, "password": password, "confirm": confirm,
                                                  "csrf_token": csrf_token(client, "/register")})
        assert response.status_code == 400, email
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_login_logout_cycle(client):
    register(client, "cycle@example.com")
    logout(client)
    assert client.get("/").status_code == 302

    wrong = login(client, "cycle@example.com", "wrong password!")
    assert wrong.status_code == 400 and "Wrong email or password" in wrong.get_data(as_text=True)
    unknown = login(client, "nobody@example.com")
    assert unknown.status_code == 400

    ok = login(client, "CYCLE@example.com", query_string={"next": "/api/me"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/api/me"
    assert client.get("/api/me").get_json()["user"]["email"] == "cycle@example.com"


def last_login(db):
    return db.execute("SELECT last_login_at FROM users WHERE email = 'owner@example.com'").fetchone()[0]


# `next` as it is sent in the query string -> where a successful login sends the browser.
# A browser trims spaces and reads "\" as "/" (WHATWG URL parsing), so those count as off-site.
NEXT_REDIRECTS = {
    "/api/me?x=1": "/api/me?x=1",
    "/api/me%3Fx%3D1": "/api/me?x=1",
    "%20/api/me": "/api/me",
    "//evil.example": "/",
    "https://evil.example/": "/",
    "HtTpS://evil.example/": "/",
    "HtTpS:evil.example": "/",
    "/%5Cevil.example": "/",
    "/%5cevil.example": "/",
    "%5C%5Cevil.example": "/",
    "/%5C/evil.example": "/",
    "%20//evil.example": "/",
    # Double-encoded: one level is decoded, the rest stays an encoded path on this site.
    "/%2509/evil.example": "/%09/evil.example",
    "/%250a/evil.example": "/%0a/evil.example",
    "/%250D/evil.example": "/%0D/evil.example",
    "/%255Cevil.example": "/%5Cevil.example",
    "%252F%252Fevil.example": "/",
    "%255C%255Cevil.example": "/",
}


def test_login_next_redirects_only_to_local_paths(unlimited_client):
    client = unlimited_client
    for target, location in NEXT_REDIRECTS.items():
        response = login(client, "owner@example.com", query_string=f"next={target}")
        assert (response.status_code, response.headers.get("Location")) == (302, location), target
        logout(client)


# A browser drops a tab or newline from a URL ("/\t/host" is "//host"), and CR/LF cannot go in a header.
NEXT_WITH_CONTROL_CHARACTERS = ("/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
                                "/%0D%0ASet-Cookie:%20x=1", "%09//evil.example", "/ok%00", "/ok%7F", "/%C2%85")


def test_login_refuses_next_with_control_characters(unlimited_client, db, caplog):
    client = unlimited_client
    for target in NEXT_WITH_CONTROL_CHARACTERS:
        caplog.clear()
        response = login(client, "owner@example.com", query_string=f"next={target}")
        assert response.status_code == 400 and "Location" not in response.headers, target
        assert "control characters" in response.get_data(as_text=True), target
        refused_once(caplog, "login refused")
        assert client.get("/").status_code == 302, target   # not logged in
        assert client.get(f"/login?next={target}").status_code == 400, target
    assert last_login(db) is None


def test_control_characters_in_form_fields_are_refused(unlimited_client, db, caplog):
    client = unlimited_client
    submissions = (
        ("/register", {"email": "nul\x00@example.com", "password": PASSWORD, "confirm": PASSWORD}),
        ("/register", {"email": "other@example.com", "password": PASSWORD + "\x00", "confirm": PASSWORD + "\x00"}),
        ("/login", {"email": "owner\x00@example.com", "password": PASSWORD}),
        ("/login", {"email": "owner@example.com\x1b", "password": PASSWORD}),
    )
    for path, data in submissions:
        caplog.clear()
        response = client.post(path, data={**data, "csrf_token": csrf_token(client, path)})
        assert response.status_code == 400, data
        assert "Control characters are not allowed." in response.get_data(as_text=True), data
        refused_once(caplog, "form refused")
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    assert last_login(db) is None


def test_logout_needs_post_with_csrf(client):
    register(client, "out@example.com")
    assert client.get("/logout").status_code == 200      # only the confirmation page
    assert client.get("/").status_code == 200            # still logged in
    assert client.post("/logout").status_code == 400     # no CSRF token
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/logout")}).status_code == 302
    assert client.get("/").status_code == 302


def test_session_cookie_flags_in_development(client):
    response = register(client, "flags@example.com")
    header = session_cookie_header(response).lower()
    assert "httponly" in header and "samesite=lax" in header
    assert "secure" not in header


def test_session_cookie_is_secure_in_production(make_app, env):
    client = make_app({**env, "NODE_ENV": "production"}).test_client()
    response = client.get("/login", base_url="https://insta.example.test")
    header = session_cookie_header(response).lower()
    assert "secure" in header and "httponly" in header and "samesite=lax" in header


def test_session_cookie_is_signed_with_session_secret(make_app, env):
    first = make_app(env).test_client()
    register(first, "signed@example.com")
    cookie = first.get_cookie("icd_session").value
    other = make_app({**env, "SESSION_SECRET": "a-completely-different-secret"}).test_client()
    other.set_cookie("icd_session", cookie)
    assert other.get("/").status_code == 302   # not accepted under another secret
    tampered = make_app(env).test_client()
    tampered.set_cookie("icd_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert tampered.get("/").status_code == 302


def test_login_gets_a_new_session(client):
    client.get("/login")
    before = client.get_cookie("icd_session").value
    register(client, "fixation@example.com")
    assert client.get_cookie("icd_session").value != before


@pytest.mark.proves("S10.2-csrf")
def test_forms_without_csrf_token_are_rejected(client, db):
    response = client.post("/register", data={"email": "x@example.com", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    response = client.post("/register", data={"email": "x@example.com", "password": PASSWORD,
                                              "confirm": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_csrf_token_of_another_session_is_rejected(make_app, env):
    victim, attacker = make_app(env).test_client(), make_app(env).test_client()
    register(victim, "victim@example.com")
    stolen = csrf_token(attacker, "/login")
    assert victim.post("/logout", data={"csrf_token": stolen}).status_code == 400
    assert victim.get("/").status_code == 200


@pytest.mark.proves("S10.2-rate-limiting")
def test_login_is_rate_limited_per_client_ip(client):
    # AUTH_RATE_LIMIT defaults to 5 per minute; showing the form does not count.
    for _ in range(5):
        assert login(client, "x@example.com", "wrong password").status_code == 400
    assert client.get("/login").status_code == 200
    limited = login(client, "x@example.com", "wrong password")
    assert limited.status_code == 429
    # Behind nginx the client IP comes from X-Forwarded-For (one trusted hop).
    other = login(client, "x@example.com", "wrong password", headers={"X-Forwarded-For": "203.0.113.7"})
    assert other.status_code == 400


def test_register_is_rate_limited(make_app, env):
    client = make_app({**env, "AUTH_RATE_LIMIT": "2 per minute"}).test_client()
    statuses = [client.post("/register", data={"email": f"r{i}@example.com", "password": "x", "confirm": "x",
                                               "csrf_token": csrf_token(client, "/register")}).status_code
                for i in range(3)]
    assert statuses == [400, 400, 429]


def test_rate_limit_is_shared_by_app_instances_without_redis(make_app, env):
    # Two instances stand for two gunicorn workers: the counter lives in PostgreSQL.
    first, second = make_app(env).test_client(), make_app(env).test_client()
    for i in range(5):
        assert login(first if i % 2 else second, "x@example.com", "bad password").status_code == 400
    assert login(first, "x@example.com", "bad password").status_code == 429
    assert login(second, "x@example.com", "bad password").status_code == 429


def test_request_id_and_no_security_headers_of_its_own(client):
    response = client.get("/login", headers={"X-Request-ID": "abc12345-from-nginx"})
    assert response.headers["X-Request-ID"] == "abc12345-from-nginx"
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert name not in response.headers, f"{name} is nginx's to send, not the app's"
    generated = client.get("/login", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert len(generated) == 32 and " " not in generated


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"]



def test_pages_answer_503_when_the_database_is_unreachable(make_app, env, caplog):
    """Sessions live in PostgreSQL too: without it a page can neither read one nor store a new one."""
    alive = make_app(env).test_client()
    token = csrf_token(alive, "/register")
    down = dead_database_app(make_app, env, DB_POOL_TIMEOUT_SECONDS="0.5")
    with_session = down.test_client()
    with_session.set_cookie("icd_session", alive.get_cookie("icd_session").value)
    for client, method, path, data in (
            (with_session, "post", "/register", {"email": "down@example.com", "password": PASSWORD,
                                                  "confirm": PASSWORD, "csrf_token": token}),
            (with_session, "get", "/api/me", None),
            (down.test_client(), "get", "/login", None)):   # a new visitor: the session cannot be stored
        caplog.clear()
        started = time.monotonic()
        response = getattr(client, method)(path, data=data)
        assert response.status_code == 503 and time.monotonic() - started < 3, path
        assert "database is unavailable" in response.get_data(as_text=True), path
        # One access line, and the one-line error without a traceback.
        assert [r.getMessage() for r in caplog.records if r.name == "app.access"] == [f"{method.upper()} {path} 503"]
        assert not any(r.exc_info for r in caplog.records), path


def test_the_site_has_an_icon(client):
    """A browser's first visit asks for /favicon.ico: a 404 there filled the logs."""
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").get_data(as_text=True)
