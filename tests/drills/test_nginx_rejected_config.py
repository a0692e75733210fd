"""A site config that `nginx -t` refuses fails the deploy and never goes live:
the previous config keeps serving."""

from tests.drills.conftest import deploy_with
from tests.pyinfra_run import run_deploy

SITE = "/etc/nginx/sites-available/insta-connect-demo"


def serving(host, domain: str) -> str:
    return host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --noproxy '*' -H 'Host: {domain}' "
                             "http://127.0.0.1/drill")


def workers(host) -> str:
    """nginx's worker pids: a reload replaces them, the master stays."""
    return host.check_output("cat /proc/$(systemctl show -p MainPID --value nginx)/task/*/children")


def test_broken_site_config_keeps_the_previous_one_serving(sandbox_inventory, host, target):
    live_before = host.file(SITE).sha256sum
    workers_before = workers(host)
    try:
        # An invalid value renders a site file nginx -t refuses, as a broken template would.
        proc = deploy_with(sandbox_inventory, "deploys/nginx.py", client_max_body_size="twelve-ish")
        assert proc.returncode != 0, "the deploy went through with a config nginx refuses"
        assert "rejected by `nginx -t -q`" in proc.stdout
        assert host.file(SITE).sha256sum == live_before
        assert host.run("nginx -t -q").rc == 0
        assert workers(host) == workers_before, "nginx reloaded (new workers) although its config was refused"
        assert serving(host, target.data["domain"]) == "301"
    finally:
        run_deploy(sandbox_inventory, "deploys/nginx.py")
    assert host.file(SITE).sha256sum == live_before


def test_a_reload_nginx_refuses_fails_the_deploy(sandbox_inventory, host, target, repo_copy):
    """`nginx -t` accepts a limit zone whose key changed, but the running master
    refuses to reload into it and keeps the old config: the deploy must say so."""
    site = repo_copy / "templates/etc/nginx/sites-available/insta-connect-demo.j2"
    site.write_text(site.read_text().replace("limit_req_zone $binary_remote_addr zone=webhook:",
                                             "limit_req_zone $http_x_drill zone=webhook:"))
    workers_before = workers(host)
    try:
        proc = run_deploy(sandbox_inventory, "deploys/nginx.py", check=False, cwd=repo_copy)
        assert proc.returncode != 0, "the deploy passed although nginx kept its old config"
        assert "nginx refused to reload; the previous configuration still serves" in proc.stdout, proc.stdout[-3000:]
        assert 'limit_req "webhook" uses the "$http_x_drill" key' in proc.stdout
        assert workers(host) == workers_before
        assert serving(host, target.data["domain"]) == "301"
    finally:
        # nginx -t accepted the file, so it went live: the repo's own version puts the old one back.
        run_deploy(sandbox_inventory, "deploys/nginx.py")
    assert "$http_x_drill" not in host.file(SITE).content_string
