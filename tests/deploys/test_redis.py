"""deploys/redis.py checks its settings while pyinfra prepares the deploy,
before any operation could touch the host: fast tier. (The config file's own
check by redis-server, and the owed restart, are drilled on the sandbox:
tests/drills/test_redis_on_off.py.)"""

import runpy

import pytest
from pyinfra.api.exceptions import DeployError


@pytest.fixture
def prepare(on_host, monkeypatch, tmp_path):
    """Prepares deploys/redis.py with Redis on and the given data; returns how it stopped.
    No REDIS_PASSWORD anywhere: settings it accepts stop at the secret, still before any operation."""
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)

    def run(**data):
        with on_host(redis_enabled=True, doppler_config=None, secrets_file=str(tmp_path / "none.env"), **data):
            with pytest.raises(DeployError) as stopped:
                runpy.run_path("deploys/redis.py")
        return str(stopped.value)
    return run


@pytest.mark.parametrize("maxmemory", ["256mb", "1GB", "512k", "1048576", "2g", "100b"])
def test_valid_settings_pass(prepare, maxmemory):
    assert prepare(redis_maxmemory=maxmemory).startswith("missing or empty secret(s) REDIS_PASSWORD")


@pytest.mark.parametrize("maxmemory", ["lots", "256 mb", "256MiB", "-1mb", "1.5gb", "", None])
def test_a_bad_maxmemory_stops_the_deploy(prepare, maxmemory):
    assert prepare(redis_maxmemory=maxmemory).startswith("box: redis_maxmemory must be bytes or a number with k")


@pytest.mark.parametrize("port", [0, 65536, "6379", True, None])
def test_a_bad_port_stops_the_deploy(prepare, port):
    assert prepare(redis_port=port).startswith("box: redis_port must be a TCP port number")
