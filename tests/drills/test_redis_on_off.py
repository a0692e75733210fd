"""Redis on: deploy with redis_enabled=True, check it and that the app keeps
its sessions there; then deploy with the default (off) again, which removes it."""

from tests.host.test_redis_server import check_redis
from tests.pyinfra_run import run_deploy


def test_redis_on_then_back_off(host, target, sandbox_inventory):
    port, app_port = str(target.data["redis_port"]), str(target.data["app_port"])
    # The password is read on the host, so it never appears in a command line or a test report.
    password = "$(sed -n 's/^requirepass //p' /etc/redis/redis.conf)"
    redis_cli = f"REDISCLI_AUTH=\"{password}\" redis-cli -h 127.0.0.1 -p {port}"
    try:
        run_deploy(sandbox_inventory, "deploys/site.py", "--data", "redis_enabled=True")
        check_redis(host, {**target.data, "redis_enabled": True})
        assert host.check_output(f"{redis_cli} ping") == "PONG"
        # A page view gives the visitor a session; with REDIS_URL it is stored in Redis.
        before = int(host.check_output(f"{redis_cli} --scan --pattern 'session:*' | wc -l"))
        host.check_output("curl -fsS -o /dev/null http://127.0.0.1:%s/login", app_port)
        assert int(host.check_output(f"{redis_cli} --scan --pattern 'session:*' | wc -l")) > before
    finally:
        run_deploy(sandbox_inventory, "deploys/site.py")
    check_redis(host, target.data)
    assert '"status":"healthy"' in host.check_output("curl -fsS http://127.0.0.1:%s/health", app_port)
