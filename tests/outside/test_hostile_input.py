"""Hostile input through the real edge, from the outside namespace: odd paths,
methods, sizes, headers, encodings, forms, OAuth state, webhooks and the
admin-only endpoints. Every answer is below 500, nothing from unsigned or
malformed input is stored, and neither the app's error log nor its journal
gets a traceback. Bounded: about 200 requests, one at a time.

The rate-limited routes (/login, /register submissions, /oauth) get only a few
here, within their burst; their input handling is tested in the app tier
(tests/app/test_hostile_input.py), where no limit paces it."""

import hashlib
import json
from pathlib import Path

import pytest

from deploys.lib.app_runtime import APP
from tests.fakemeta import sign
from tests.sandbox import secrets

PATHS = [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../app.py", "/static/%2e%2e/config.py",
    "/static/..%2f..%2fetc/passwd", "/.env", "/app/.env", "/.git/config", "/venv/bin/python", "/logs/",
    "/wp-admin/", "/server-status", "/%00", "/a%00b", "/%ff%fe", "/%C0%AE%C0%AE/", "/\u00e9t\u00e9",
    "/" + "a" * 4000, "/api/accounts/%00/events", "/api/accounts/..%2f..%2fme", "/?" + "q=1&" * 500,
    "/login?next=%0d%0aSet-Cookie:x=1", "/health?%ZZ", "/api/me?x=%ZZ", "/webhook?hub.mode=subscribe",
    "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=x", "/static/", "/static/app.css%00.py",
    "/api/", "/api/accounts/1/events?limit=-1", "/api/accounts/1/events?limit=99999999999999999999",
    "/api/accounts/1/events?status=%00", "//", "/./././", "/%2F%2Fevil.example",
]
METHODS = ["OPTIONS", "TRACE", "PUT", "DELETE", "PATCH", "PROPFIND", "FOO", "HEAD"]
METHOD_PATHS = ["/", "/api/me", "/health", "/webhook", "/static/app.css"]
ADMIN = ["/metrics", "/alerts", "//metrics", "/%6detrics", "/METRICS", "/metrics/", "/metrics;x", "/alerts%00",
         "/static/../metrics"]
HEADERS = [
    ["Host: evil.example"], ["X-Forwarded-Host: evil.example"], ["X-Forwarded-For: 127.0.0.1"],
    ["X-Forwarded-Proto: http"], ["X-Real-IP: 127.0.0.1"], ["X-Request-ID: " + "x" * 5000],
    ["Cookie: icd_session=" + "A" * 3000], ["Cookie: icd_session=forged.signature"], ["Range: bytes=0-1,2-3,4-5"],
    ["Content-Type: multipart/form-data; boundary="], ["Accept: */*" + ", text/html" * 400],
    ["Referer: javascript:alert(1)"], ["User-Agent: () { :; }; echo vulnerable"], ["Authorization: Basic Og=="],
    ["Transfer-Encoding: chunked", "Content-Length: 5"], ["Content-Length: -1"], ["Expect: 100-continue"],
    ["If-Modified-Since: not a date"], ["Accept-Encoding: gzip;q=abc"], ["Connection: upgrade", "Upgrade: h2c"],
]
FORMS = [  # not rate limited: the app must refuse each without its CSRF token, a session or both
    ("/logout", "csrf_token=x"), ("/accounts/1/refresh", ""), ("/accounts/1/disconnect", "csrf_token=%00"),
    ("/", "a=b"), ("/api/me", "{}"),
]
SUBMISSIONS = [  # within the auth burst: a handful only
    ("/login", "email=a%00%40example.com&password=x"), ("/register", "email=%0d%0a&password=x&confirm=y"),
    ("/login?next=/%09/evil.example", "email=a%40example.com&password=" + "x" * 300),
]
OAUTH = ["/oauth/callback?state=garbage&code=x", "/oauth/callback?state=%00&code=%00"]


def https(internet, path: str) -> str:
    return f"https://{internet.domain}{path}"


@pytest.fixture(scope="module")
def app_secret(target) -> str:
    return secrets.read(Path(target.data["secrets_file"]))["APP_SECRET"]


@pytest.fixture
def edge(internet, host, target, psql):
    """send(path, *curl options) -> status; checks afterwards that nothing was
    stored and no traceback was logged while the test ran."""
    app = APP
    since = host.check_output("date -u '+%Y-%m-%d %H:%M:%S'")
    stored = psql("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM users)")
    sent = []

    def send(path: str, *options: str) -> int:
        proc = internet.curl(https(internet, path), "--path-as-is", "--output", "/dev/null",
                             "--write-out", "%{http_code}", *options)
        status = int(proc.stdout or 0)
        sent.append((path, options, status))
        return status

    yield send
    server_errors = [(path, options, status) for path, options, status in sent if not 0 < status < 500]
    assert not server_errors, server_errors
    assert psql("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM users)") == stored
    journal = host.check_output("journalctl -q -u %s --since %s --no-pager | grep -c Traceback || true",
                                f"{app}*", since)
    logged = host.check_output("cat %s/logs/error-*.log 2>/dev/null | grep -c Traceback || true",
                               target.data["app_dir"])
    assert journal == "0" and logged == "0", f"tracebacks: {journal} in the journal, {logged} in error logs"
    hostile_requests.extend(sent)


hostile_requests: list = []


def test_odd_paths(edge):
    for path in PATHS:
        edge(path)


def test_odd_methods(edge):
    for path in METHOD_PATHS:
        for method in METHODS:
            edge(path, "--request", method, *(["--head"] if method == "HEAD" else []))


def test_admin_endpoints_stay_refused(edge):
    for path in ADMIN:
        for options in ([], ["--header", "X-Forwarded-For: 127.0.0.1"], ["--request", "POST"]):
            assert edge(path, *options) in (400, 403, 404, 405, 429), path


def test_odd_headers(edge):
    for path in ("/", "/health", "/api/me"):
        for headers in HEADERS:
            edge(path, *[arg for header in headers for arg in ("--header", header)])


def body_file(tmp_path, body: bytes) -> str:
    path = tmp_path / hashlib.sha256(body).hexdigest()
    path.write_bytes(body)
    return f"@{path}"


def test_sizes(edge, tmp_path):
    big = body_file(tmp_path, b"x" * (3 * 1024 * 1024))
    assert edge("/webhook", "--data-binary", big, "--header", "Content-Type: application/json") == 413
    # Over HTTP/2 nginx resets a stream with oversized headers, answering nothing.
    assert edge("/", "--http1.1", "--header", "X-Big: " + "y" * 20000) in (400, 431, 494)
    many = [arg for n in range(120) for arg in ("--header", f"X-H{n}: {n}")]
    edge("/health", *many)


@pytest.mark.proves("S10.2-csrf")
def test_forms_without_their_csrf_token_or_a_session(edge):
    for path, body in FORMS:
        assert edge(path, "--data", body) in (302, 400, 401, 403, 404, 405), path
    for path, body in SUBMISSIONS:
        assert edge(path, "--data", body) in (400, 429), path


def test_oauth_callbacks_with_forged_state(edge):
    for path in OAUTH:
        assert edge(path) in (302, 400, 401, 429), path


def test_webhooks(edge, app_secret, tmp_path):
    """Unsigned, mis-signed and signed-but-malformed deliveries: none stored."""
    bodies = [b"", b"{", b"null", b"[]", b'{"object":"instagram","entry":"x"}', b"\xff\xfe\x00",
              b'{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":NaN}]}]}',
              b'{"object":"instagram","entry":[{"id":"1","time":1e400}]}', b"[" * 5000 + b"]" * 5000,
              json.dumps({"object": "instagram", "entry": [{"id": "\u0000", "changes": "x"}]}).encode(),
              b'{"object":"page","entry":[]}' + b" " * 10]
    for body in bodies:
        for signature in (None, "sha256=" + "0" * 64, "sha1=abc", "sha256=" + "z" * 64, sign("not the secret", body)):
            headers = ["--header", f"X-Hub-Signature-256: {signature}"] if signature else []
            status = edge("/webhook", "--data-binary", body_file(tmp_path, body),
                          "--header", "Content-Type: application/json", *headers)
            assert status in (400, 401, 403, 429), (body[:40], signature, status)
    for body in bodies:
        status = edge("/webhook", "--data-binary", body_file(tmp_path, body), "--header",
                      "Content-Type: application/json", "--header", f"X-Hub-Signature-256: {sign(app_secret, body)}")
        assert status in (200, 400, 429), (body[:40], status)


def test_enough_hostile_requests_were_sent():
    """The tier's size is part of its claim: at least 150 requests, none answered 5xx
    (runs last, in file order; the tests above recorded what they sent)."""
    assert len(hostile_requests) >= 150, len(hostile_requests)
