"""deploys/nginx.py, as the host shows it. Read-only: safe against production
(requests go to the host's own loopback)."""

import pytest

from deploys.lib.app_runtime import APP
from tests.host.conftest import (assert_enabled_and_running, assert_exposure_at_most,
                                  assert_live_is_the_rendered_template, assert_settings, main_process_status,
                                  unit_properties)


@pytest.mark.proves("S12.3-nginx-t")
def test_nginx_running_on_a_valid_config(host):
    assert_enabled_and_running(host, "nginx")
    check = host.run("nginx -t -q")
    assert check.rc == 0, f"nginx -t refuses the config on disk: {check.stderr}"


@pytest.mark.proves("S5.1-site-files")
def test_site_enabled_and_default_gone(host):
    assert host.file(f"/etc/nginx/sites-enabled/{APP}").linked_to == f"/etc/nginx/sites-available/{APP}"
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert_live_is_the_rendered_template(host, f"/etc/nginx/sites-available/{APP}", "the nginx site")


@pytest.mark.proves("S5.1-certificate-path")
def test_served_config(host, target):
    config = host.check_output("nginx -T 2>/dev/null")
    data, domain = target.data, target.data["domain"]
    wanted = [
        f"server_name {domain};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_certificate /etc/letsencrypt/live/{domain}/fullchain.pem;",
        f"server unix:{data['app_socket']};",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Request-ID $request_id;",
        f"keepalive {data['upstream_keepalive']};",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "access_log /var/log/nginx/access.log with_request_id;",
        f"client_max_body_size {data['client_max_body_size']};",
        "limit_req_status 429;",
        *(f"allow {address};" for address in data["admin_ips"]),
    ]
    missing = [line for line in wanted if line not in config]
    assert missing == [], f"nginx's loaded configuration (nginx -T) lacks {missing}"


@pytest.mark.proves("S5.1-https-redirect")
def test_port_80_redirects_except_acme(host, target):
    domain = target.data["domain"]
    curl = f"curl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}' --noproxy '*' -H 'Host: {domain}' http://127.0.0.1"
    assert host.check_output(f"{curl}/some/page") == f"301 https://{domain}/some/page"
    assert host.check_output(f"{curl}/.well-known/acme-challenge/absent").startswith("404")


@pytest.mark.proves("S1-https-edge")
def test_listens_on_80_and_443(host):
    for port in (80, 443):
        assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_nginx_runs_in_its_sandbox(host, target):
    assert_exposure_at_most(host, "nginx.service", target.data["daemon_exposure_max"], "daemon_exposure_max")
    props = unit_properties(host, "nginx.service", "ProtectSystem", "ReadWritePaths", "NoNewPrivileges")
    assert_settings(props, {"ProtectSystem": "strict", "NoNewPrivileges": "yes"}, "systemctl show nginx.service")
    assert set(props["ReadWritePaths"].split()) == {"/var/log/nginx", "/var/lib/nginx", "/run"}, \
        f"nginx.service may write {props['ReadWritePaths']!r}, not just /var/log/nginx, /var/lib/nginx and /run"
    reload = host.check_output("systemctl show -P ExecReload nginx.service").splitlines()
    assert "argv[]=/usr/sbin/nginx -t " in reload[0]  # certbot's hook reloads through this check first
    # The running master, not just the unit: it was restarted into the sandbox.
    assert main_process_status(host, "nginx.service")["NoNewPrivs"] == "1"
