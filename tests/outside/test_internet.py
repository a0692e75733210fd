"""The host as an internet user sees it: from the outside namespace, whose
address is not in admin_ips."""

import secrets

import pytest

SCANNED_PORTS = [*range(1, 1025), 3000, 5432, 6379, 8080, 8443]
BURST = 20  # requests in the /login burst: enough to pass any sane strict limit, bounded


def https(vantage, path="/"):
    return f"https://{vantage.domain}{path}"


def test_only_http_and_https_answer(internet):
    assert internet.probe("ports", internet.address, *map(str, SCANNED_PORTS))["open"] == [80, 443]


@pytest.mark.parametrize("port", [22, 3000, 5432])
def test_private_ports_do_not_answer(internet, port):
    assert internet.probe("ports", internet.address, str(port))["open"] == []


def test_http_redirects_to_https(internet):
    headers = internet.headers(f"http://{internet.domain}/login?next=%2F")
    assert headers["status"] == "301"
    assert headers["location"] == f"https://{internet.domain}/login?next=%2F"


def test_acme_challenge_path_is_served_not_redirected(internet, host, target):
    token = secrets.token_urlsafe(16)
    challenge = f"{target.data['acme_webroot']}/.well-known/acme-challenge/{token}"
    host.run_test(f"mkdir -p $(dirname {challenge}) && echo {token}.probe > {challenge}")
    try:
        proc = internet.curl(f"http://{internet.domain}/.well-known/acme-challenge/{token}", "--fail")
        assert proc.returncode == 0 and proc.stdout.strip() == f"{token}.probe", proc.stderr
    finally:
        host.run_test(f"rm -f {challenge}")
    assert internet.status(f"http://{internet.domain}/.well-known/acme-challenge/missing-{token}") == 404


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


def test_security_headers(internet, target):
    headers = internet.headers(https(internet))  # sent with every status, the app's or nginx's own
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


def test_text_is_gzipped(internet):
    # nginx's own 403 page: text/html that needs no app behind nginx.
    headers = internet.headers(https(internet, "/metrics"), "--header", "Accept-Encoding: gzip")
    assert headers["status"] == "403"
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()


def test_login_burst_gets_429(internet):
    url = https(internet, "/login")
    proc = internet.curl(url, "--write-out", "%{http_code}\n", "--output", "/dev/null",
                         *(["--output", "/dev/null", url] * (BURST - 1)))
    codes = proc.stdout.split()
    assert len(codes) == BURST, proc.stderr
    assert codes.count("429") >= BURST // 2, codes


@pytest.mark.parametrize("path", ["/metrics", "/alerts"])
def test_admin_endpoints_refused(internet, path):
    assert internet.status(https(internet, path)) == 403
