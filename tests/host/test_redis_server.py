"""deploys/redis.py, as the host shows it: present only with redis_enabled.
Read-only: safe against production. The Redis drill reuses check_redis with
redis_enabled on."""

import pytest

from tests.host.conftest import assert_enabled_and_running, listeners, read_env_names


def check_redis(host, data: dict) -> None:
    port = data["redis_port"]
    env_names = read_env_names(host, data)
    if data["redis_enabled"]:
        assert_enabled_and_running(host, "redis-server")
        assert listeners(host, port) <= {"127.0.0.1", "[::1]"} and listeners(host, port)
        # A password is required: an unauthenticated client is refused.
        assert "NOAUTH" in host.run("redis-cli -h 127.0.0.1 -p %s ping", str(port)).stdout
        assert "REDIS_URL" in env_names
    else:
        assert not host.package("redis-server").is_installed
        assert listeners(host, port) == set()
        assert "REDIS_URL" not in env_names


@pytest.mark.proves("S1-redis-optional")
def test_redis_matches_redis_enabled(host, target):
    check_redis(host, target.data)
