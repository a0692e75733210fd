"""The host as an internet user sees it: from the outside namespace, whose
address is not in admin_ips."""

import json
import re
import secrets
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.sandbox import secrets as sandbox_secrets

SCANNED_PORTS = [*range(1, 1025), 3000, 5432, 6379, 8080, 8443]
BURST = 20  # requests in a /login burst: enough to pass any sane strict limit, bounded
BAD_SIGNATURE = "sha256=" + "0" * 64  # well-formed, wrong


def secrets_of(target) -> dict[str, str]:
    return sandbox_secrets.read(Path(target.data["secrets_file"]))


def https(vantage, path="/"):
    return f"https://{vantage.domain}{path}"


def spoofed_headers(address: str) -> list[str]:
    """The headers a client could use to claim to be `address`."""
    return ["--header", f"X-Forwarded-For: {address}", "--header", f"X-Real-IP: {address}",
            "--header", f"Forwarded: for={address}"]


def webhook_post(signature: str | None) -> list[str]:
    return ["--header", "Content-Type: application/json", "--data", '{"object":"instagram","entry":[]}',
            *(["--header", f"X-Hub-Signature-256: {signature}"] if signature else [])]


@pytest.mark.proves("S1-https-edge", "S10.1-https-open")
def test_only_http_and_https_answer(internet):
    assert internet.probe("ports", internet.address, *map(str, SCANNED_PORTS))["open"] == [80, 443]


@pytest.mark.parametrize("port", [pytest.param(22, marks=pytest.mark.proves("S10.1-ssh-admin-ips")), 3000,
                                  pytest.param(5432, marks=pytest.mark.proves("S10.1-postgres-closed"))])
def test_private_ports_do_not_answer(internet, port):
    assert internet.probe("ports", internet.address, str(port))["open"] == []


@pytest.mark.proves("S5.1-https-redirect", "S10.1-http-open", "S10.2-https-enforced")
def test_http_redirects_to_https(internet):
    reply = internet.fetch(f"http://{internet.domain}/login?next=%2F")
    assert reply.status == 301
    assert reply.headers["location"] == f"https://{internet.domain}/login?next=%2F"


def test_acme_challenge_path_is_served_not_redirected(internet, host, target):
    token = secrets.token_urlsafe(16)
    challenge = f"{target.data['acme_webroot']}/.well-known/acme-challenge/{token}"
    # Readable by nginx as certbot makes them (umask 022), whatever the login session's umask
    # (Debian 13's pam_umask applies login.defs' UMASK 027 to root's sessions too).
    host.run_test(f"umask 022 && mkdir -p $(dirname {challenge}) && echo {token}.probe > {challenge}")
    try:
        proc = internet.curl(f"http://{internet.domain}/.well-known/acme-challenge/{token}", "--fail")
        assert proc.returncode == 0 and proc.stdout.strip() == f"{token}.probe", proc.stderr
    finally:
        host.run_test(f"rm -f {challenge}")
    assert internet.status(f"http://{internet.domain}/.well-known/acme-challenge/missing-{token}") == 404


@pytest.mark.proves("S1-https-edge")
def test_certificate_is_for_the_domain_and_chains_to_pebbles_root(internet):
    # curl checks the chain against Pebble's root only, and the name against the domain.
    proc = internet.curl(https(internet), "--output", "/dev/null", "--write-out", "%{ssl_verify_result}")
    assert proc.returncode == 0 and proc.stdout == "0", proc.stderr
    chain = internet.run("sh", "-c", f"openssl s_client -connect {internet.address}:443 -servername "
                         f"{internet.domain} -verify_return_error -CAfile {internet.pebble_root} "
                         "</dev/null 2>&1")
    assert "Verify return code: 0 (ok)" in chain.stdout
    assert "Pebble Intermediate CA" in chain.stdout


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_is_refused(internet, version):
    result = internet.probe("tls", internet.address, "443", internet.domain, version)
    assert not result["ok"] and "PROTOCOL_VERSION" in result["error"], result


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_modern_tls_is_accepted(internet, version):
    result = internet.probe("tls", internet.address, "443", internet.domain, version)
    assert result["ok"], result
    assert "GCM" in result["cipher"] or "CHACHA20" in result["cipher"], result


# nginx's own 403 page, an app page and an app JSON answer: the same headers, each sent once.
@pytest.mark.parametrize("path", ["/metrics", "/", "/health"])
@pytest.mark.proves("S5.1-security-headers", "S10.2-https-enforced")
def test_security_headers(internet, target, path):
    headers = internet.fetch(https(internet, path)).headers
    assert headers["strict-transport-security"] == f"max-age={target.data['hsts_max_age']}; includeSubDomains"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["content-security-policy"] == target.data["content_security_policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["server"] == "nginx"  # no version


def test_http2(internet):
    proc = internet.curl(https(internet), "--http2", "--output", "/dev/null", "--write-out", "%{http_version}")
    assert proc.stdout == "2", proc.stderr


@pytest.mark.proves("S7.1-health", "S6-node-env")
def test_health_over_https(internet, target):
    reply = internet.fetch(https(internet, "/health"))
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    health = json.loads(reply.body)
    assert list(health) == ["status", "timestamp", "uptime", "environment"]
    assert health["status"] == "healthy"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", health["timestamp"]), health
    assert datetime.fromisoformat(health["timestamp"]).tzinfo == timezone.utc
    assert isinstance(health["uptime"], int) and health["uptime"] >= 0  # milliseconds
    assert health["environment"] == target.data["node_env"] == "production"


class PageResources(HTMLParser):
    """What a page loads (stylesheets, scripts, images) and what inline code it has."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet" or tag in ("script", "img") and "src" in attrs:
            self.loads.append(attrs.get("href") or attrs["src"])
        elif tag in ("style", "script"):
            self.inline.append(f"<{tag}>")
        self.inline += [f"{tag} {name}" for name in attrs if name == "style" or name.startswith("on")]


# Before the /login bursts below, which leave this address limited there for a while.
@pytest.mark.proves("S5.1-gzip")
def test_login_page_is_gzipped_and_renders_under_the_csp(internet, target):
    reply = internet.fetch(https(internet, "/login"), "--header", "Accept-Encoding: gzip")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    assert reply.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in reply.headers["vary"].lower()
    assert reply.headers["content-security-policy"] == target.data["content_security_policy"]
    assert "style-src 'self'" in target.data["content_security_policy"]
    assert "<form" in reply.body
    page = PageResources()
    page.feed(reply.body)
    # Everything the page loads is same-origin ('self'), and it has no inline code or styles
    # ('self' blocks those): the browser renders it as served.
    assert page.inline == []
    assert page.loads, "the page loads no stylesheet"
    for resource in page.loads:
        url = urljoin(https(internet, "/login"), resource)
        assert urlsplit(url).netloc == internet.domain, url
        loaded = internet.fetch(url)
        assert loaded.status == 200, url
        if resource.endswith(".css"):
            assert loaded.headers["content-type"].startswith("text/css")
            assert loaded.headers["content-encoding"] == "gzip"


@pytest.mark.proves("S10.2-rate-limiting")
def test_login_submission_burst_gets_429(internet, target):
    codes = internet.burst(https(internet, "/login"), BURST, "--data", "email=a%40example.com&password=x")
    assert codes.count("429") >= BURST - (target.data["auth_rate_burst"] + 1), codes


def test_oauth_burst_gets_429(internet, target):
    codes = internet.burst(https(internet, "/oauth/callback?code=x&state=y"), BURST)
    assert codes.count("429") >= BURST - (target.data["auth_rate_burst"] + 1), codes


def test_a_persons_page_views_are_not_limited(internet, target):
    """Looking at the forms and being sent to them is not what an attacker repeats:
    more views at once than a person makes in minutes get no 429 (the submissions' limit stays)."""
    views = target.data["auth_rate_burst"] * 2
    codes = internet.burst(https(internet, "/login?next=/"), views) + internet.burst(https(internet, "/register"), views)
    assert "429" not in codes, codes


def test_spoofed_forwarded_for_does_not_escape_the_login_limit(internet, target):
    # A new made-up client address in every request: the limit still counts this one peer.
    codes = [internet.status(https(internet, "/login"), "--data", "email=a%40example.com&password=x",
                             *spoofed_headers(f"198.51.100.{n}")) for n in range(1, BURST + 1)]
    assert codes.count(429) >= BURST - (target.data["auth_rate_burst"] + 1), codes


@pytest.mark.parametrize("path", ["/metrics", "/alerts"])
def test_admin_endpoints_refused(internet, path):
    assert internet.status(https(internet, path)) == 403


@pytest.mark.parametrize("path", ["//metrics", "/%6Detrics", "/metrics/", "/./metrics", "/static/../alerts",
                                  "/%61lerts?format=json"])
def test_admin_endpoints_refused_under_other_spellings(internet, path):
    assert internet.status(https(internet, path), "--path-as-is") in (403, 404)


def test_spoofed_admin_address_is_refused(internet, sandbox_state):
    for path in ("/metrics", "/alerts"):
        assert internet.status(https(internet, path), *spoofed_headers(sandbox_state["gateway"])) == 403


def test_app_sees_the_peer_and_nginx_request_id(internet, host, target, sandbox_state):
    """The app logs the real peer (not a spoofed X-Forwarded-For) under nginx's
    request id (not one the client sent), and nginx's access log has the same id."""
    reply = internet.fetch(https(internet, "/health"), "--header", "X-Request-ID: chosen-by-the-client",
                           *spoofed_headers(sandbox_state["gateway"]))
    request_id = reply.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id  # nginx's $request_id
    app_lines = host.check_output(f"grep -h {request_id} {target.data['app_dir']}/logs/combined-*.log")
    access = next(line for line in map(json.loads, app_lines.splitlines()) if line["logger"] == "app.access")
    assert access["path"] == "/health" and access["remote_addr"] == sandbox_state["outside_address"], access
    nginx_line = host.check_output(f"grep -h request_id={request_id} /var/log/nginx/access.log")
    assert nginx_line.startswith(f"{sandbox_state['outside_address']} "), nginx_line


@pytest.mark.parametrize(("signature", "status"), [(None, 401), (BAD_SIGNATURE, 403)])
def test_webhook_with_a_bad_signature_is_refused_by_the_app(internet, signature, status):
    reply = internet.fetch(https(internet, "/webhook"), *webhook_post(signature))
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json" and "error" in json.loads(reply.body)
    assert "x-request-id" in reply.headers  # the app answered, not nginx


def test_webhook_burst_within_the_tolerance_is_not_limited(internet, target):
    count = target.data["webhook_rate_burst"] // 2
    codes = internet.burst(https(internet, "/webhook"), count, *webhook_post(BAD_SIGNATURE))
    assert codes == ["403"] * count, sorted(set(codes))


def test_larger_webhook_burst_gets_429(internet, target):
    count = target.data["webhook_rate_burst"] * 2
    codes = internet.burst(https(internet, "/webhook"), count, *webhook_post(BAD_SIGNATURE))
    assert "429" in codes and set(codes) == {"403", "429"}, sorted(set(codes))


def test_slow_clients_are_cut_off_and_limited_per_address(internet, target):
    """A slowloris: more requests at once than nginx_connections_per_client, each
    never sending its body. Those over the limit get 429 at once; the rest are
    closed once nginx_client_timeout passes without a byte (bounded: 30 s)."""
    limit, timeout = target.data["nginx_connections_per_client"], int(target.data["nginx_client_timeout"].rstrip("s"))
    result = internet.probe("slow", internet.address, internet.domain, str(limit + 5), "30")
    assert result["statuses"].count(429) == 5, result
    held = [held for status, held in zip(result["statuses"], result["held"]) if status != 429]
    assert len(held) == limit and all(timeout - 1 <= seconds <= timeout + 5 for seconds in held), result


def test_favicon_is_served(internet):
    assert internet.status(https(internet, "/favicon.ico")) == 200


def test_the_webhook_handshake_token_is_not_logged(internet, host, target):
    verify_token = secrets_of(target)["VERIFY_TOKEN"]
    marker = secrets.token_hex(8)
    status = internet.status(https(internet, f"/webhook?hub.mode=subscribe&hub.verify_token={verify_token}"
                                             f"&hub.challenge={marker}"))
    assert status == 200
    logged = host.check_output("grep -h 'GET /webhook' /var/log/nginx/access.log | tail -n 5")
    assert "GET /webhook HTTP/" in logged and verify_token not in logged and marker not in logged, logged
