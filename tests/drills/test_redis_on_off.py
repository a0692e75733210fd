"""Redis on: deploy with redis_enabled=True, check it and that the app keeps
its rate-limit counters there; a restart a run left owed is made by the next
run; a config redis-server refuses never goes live; bad settings stop the
deploy before it touches the host. Then deploy with the default (off) again,
which removes it."""

import pytest

from tests.drills.conftest import deploy_with, host_untouched
from tests.host.conftest import app_curl
from tests.host.test_redis_server import check_redis
from tests.pyinfra_run import operations_run, run_deploy

CONF = "/etc/redis/redis.conf"
ON = ("--data", "redis_enabled=True")


def failed_login(data: dict) -> str:
    """A shell command: one wrong password, with the form's CSRF token (a form without one is not counted)."""
    curl, url = app_curl(data), "http://localhost/login"
    token = "sed -n 's/.*name=\"csrf_token\" type=\"hidden\" value=\"\\([^\"]*\\)\".*/\\1/p'"
    return (f"jar=$(mktemp) && token=$({curl} -f -c $jar {url} | {token}) && "
            f"{curl} -o /dev/null -b $jar --data-urlencode csrf_token=$token "
            f"-d email=redis-drill@example.test -d password=not-the-password {url}; status=$?; rm -f $jar; exit $status")


@pytest.mark.proves("S1-redis-optional")
def test_redis_on_then_back_off(host, target, sandbox_inventory, repo_copy):
    port = str(target.data["redis_port"])
    # The password is read on the host, so it never appears in a command line or a test report.
    password = f"$(sed -n 's/^requirepass //p' {CONF})"
    redis_cli = f"REDISCLI_AUTH=\"{password}\" redis-cli -h 127.0.0.1 -p {port}"
    maxmemory = lambda: host.check_output(f"{redis_cli} config get maxmemory").split()[-1]  # noqa: E731
    try:
        run_deploy(sandbox_inventory, "deploys/site.py", *ON)
        check_redis(host, {**target.data, "redis_enabled": True})
        assert host.check_output(f"{redis_cli} ping") == "PONG"
        # A failed login counts against the rate limit; with REDIS_URL the counter is kept in Redis.
        counters = f"{redis_cli} --scan --pattern '*insta-connect*' | wc -l"
        before = int(host.check_output(counters))
        host.check_output(failed_login(target.data))
        assert int(host.check_output(counters)) > before

        # A run interrupted after writing redis_maxmemory=300mb's config, before the restart:
        # the file is already as the next run wants it, the server still runs the old one.
        assert maxmemory() == str(256 * 2**20)
        host.check_output(f"sed -i 's/^maxmemory .*/maxmemory 300mb/' {CONF}")
        run_deploy(sandbox_inventory, "deploys/site.py", *ON, "--data", "redis_maxmemory=300mb")
        assert maxmemory() == str(300 * 2**20), "the restart the interrupted run owed was not made"

        # A config redis-server refuses is never made live: the running one and its file stay.
        template = repo_copy / "templates/etc/redis/redis.conf.j2"
        template.write_text(template.read_text() + "maxmemory-policy keep-everything\n")
        live = host.check_output("sha256sum %s", CONF)
        refused = run_deploy(sandbox_inventory, "deploys/site.py", *ON, check=False, cwd=repo_copy)
        assert refused.returncode != 0 and f"{CONF}: the new version was refused" in refused.stdout, \
            refused.stdout[-3000:]
        assert "maxmemory-policy" in refused.stdout, "redis-server's reason is not shown"
        assert host.check_output("sha256sum %s", CONF) == live
        assert not host.file(f"{CONF}.pyinfra-new").exists
        assert host.check_output(f"{redis_cli} ping") == "PONG"

        # Settings Redis would refuse stop the deploy before any operation.
        with host_untouched(host, target.data):
            stopped = deploy_with(sandbox_inventory, "deploys/site.py", redis_enabled=True, redis_maxmemory="lots")
        assert stopped.returncode != 0 and "redis_maxmemory must be bytes or a number with" in stopped.stdout, \
            stopped.stdout[-3000:]
        assert operations_run(stopped) == [], "an operation ran on the host"
    finally:
        run_deploy(sandbox_inventory, "deploys/site.py")
    check_redis(host, target.data)
    assert not host.file("/var/lib/pyinfra-done/redis-config").exists
    assert '"status":"healthy"' in host.check_output(f"{app_curl(target.data)} -f http://localhost/health")
