"""deploys/certbot.py, as the host shows it. Read-only: safe against production."""

import pytest

from tests.host.conftest import (assert_enabled_and_running, assert_exposure_at_most, assert_settings,
                                  first_lines_of_diff, unit_properties)


@pytest.fixture(scope="module")
def live(target) -> str:
    return f"/etc/letsencrypt/live/{target.data['domain']}"


@pytest.mark.proves("S5.2-lets-encrypt")
def test_issued_by_the_configured_directory(host, target):
    renewal = host.file(f"/etc/letsencrypt/renewal/{target.data['domain']}.conf").content_string
    assert f"server = {target.data['acme_directory']}" in renewal
    assert "authenticator = webroot" in renewal
    assert target.data["acme_webroot"] in renewal


@pytest.mark.proves("S5.2-lets-encrypt")
def test_certificate_is_real_current_and_for_the_domain(host, target, live):
    cert = f"{live}/cert.pem"
    subject = host.check_output(f"openssl x509 -in {cert} -noout -subject -nameopt RFC2253")
    issuer = host.check_output(f"openssl x509 -in {cert} -noout -issuer -nameopt RFC2253")
    assert issuer.split("=", 1)[1] != subject.split("=", 1)[1], "still the self-signed placeholder"
    sans = host.check_output(f"openssl x509 -in {cert} -noout -ext subjectAltName")
    assert f"DNS:{target.data['domain']}" in sans
    assert host.run(f"openssl x509 -in {cert} -noout -checkend 0").rc == 0, "expired"


def test_nginx_serves_the_live_certificate(host, target, live):
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {target.data['domain']} </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial")
    current = host.check_output(f"openssl x509 -in {live}/cert.pem -noout -serial")
    assert served == current, (f"nginx serves a certificate other than {live}/cert.pem ({served}, the file's "
                               f"{current}): it was not reloaded since the last issue or renewal")


@pytest.mark.proves("S5.2-automatic-renewal")
def test_renewal_by_timer_with_nginx_reload(host):
    assert_enabled_and_running(host, "certbot.timer")
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/reload-nginx")
    assert hook.mode == 0o755, f"{hook.path} is mode {hook.mode:04o}, not 0755: certbot would not run it"
    assert "systemctl reload nginx" in hook.content_string, f"{hook.path} does not reload nginx"


def test_renewals_trust_the_same_acme_ca(host, target):
    environment = host.check_output("systemctl show certbot.service -p Environment")
    if target.data["acme_ca_bundle"]:
        assert "REQUESTS_CA_BUNDLE=/etc/letsencrypt/acme-ca-bundle.pem" in environment
        path = "/etc/letsencrypt/acme-ca-bundle.pem"
        bundle = host.file(path).content_string
        assert bundle == target.data["acme_ca_bundle"], f"{path} differs from acme_ca_bundle:\n" \
            + first_lines_of_diff(target.data["acme_ca_bundle"], bundle, "acme_ca_bundle", path)
    else:
        assert "REQUESTS_CA_BUNDLE" not in environment


def test_renewals_run_in_a_sandbox(host, target):
    assert_exposure_at_most(host, "certbot.service", target.data["daemon_exposure_max"], "daemon_exposure_max")
    props = unit_properties(host, "certbot.service", "ProtectSystem", "ReadWritePaths", "CapabilityBoundingSet")
    assert_settings(props, {"ProtectSystem": "strict", "CapabilityBoundingSet": ""}, "systemctl show certbot.service")
    assert target.data["acme_webroot"] in props["ReadWritePaths"].split(), \
        f"certbot.service may not write the http-01 challenges to {target.data['acme_webroot']}"
