"""The deploys' own logic, without a host: fast tier."""

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import DeployError
from pyinfra.context import ctx_host, ctx_state

from deploys.lib import credentials
from deploys.lib.operations import scram_matches, scram_verifier
from deploys.lib.postgres import memory_settings, postgres_plan

# A verifier PostgreSQL 15 stored for the password "correct horse" (SELECT rolpassword FROM pg_authid).
PG_VERIFIER = ("SCRAM-SHA-256$4096:ubZ1316obeA5a8UraP/kEQ==$L27J2hjN+x9rlKO3VrTvK5PlvYQKjmxrpHCqCj6qbms=:"
               "KioGxYyxXEWlFyQdWYeD3W+8nqKGb8PciJ6LGfEmjNQ=")


def test_scram_verifier_round_trips():
    verifier = scram_verifier("s3cret-value")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert scram_matches(verifier, "s3cret-value")
    assert not scram_matches(verifier, "s3cret-valuf")


def test_scram_matches_a_verifier_postgres_made():
    assert scram_matches(PG_VERIFIER, "correct horse")
    assert not scram_matches(PG_VERIFIER, "correct horse ")


@pytest.mark.parametrize("stored", [None, "", "md5abcdef", "SCRAM-SHA-256$bad", "SCRAM-SHA-1$4096:AA==$AA==:AA=="])
def test_scram_never_matches_other_or_missing_verifiers(stored):
    assert not scram_matches(stored, "anything")


@pytest.mark.parametrize("distro, release, wanted, plan", [
    ("Debian", 12, 16, (15, False)),  # the sandbox: Debian's own major, whatever is wanted
    ("Debian", 13, 16, (17, False)),
    ("Ubuntu", 24, 16, (16, False)),  # Ubuntu 24.04's own 16
    ("Ubuntu", 22, 16, (16, True)),   # Ubuntu 22.04 ships 14: PGDG
])
def test_postgres_plan_follows_the_release(distro, release, wanted, plan):
    assert postgres_plan(distro, release, wanted) == plan


def test_postgres_plan_refuses_unknown_releases():
    with pytest.raises(ValueError, match="Ubuntu 20"):
        postgres_plan("Ubuntu", 20, 16)


def test_memory_settings_scale_with_ram_and_stay_bounded():
    small = memory_settings(1024, 50, 0.25, 0.75)
    assert small == {"shared_buffers_mb": 256, "effective_cache_mb": 768, "work_mem_mb": 5,
                     "maintenance_work_mem_mb": 64}
    big = memory_settings(64 * 1024, 50, 0.25, 0.75)
    assert big["shared_buffers_mb"] == 16 * 1024 and big["work_mem_mb"] == 64
    assert big["maintenance_work_mem_mb"] == 1024


def _require(tmp_path, monkeypatch, env: dict, file_text: str) -> str:
    """deploys.lib.credentials.require for DB_PASSWORD and APP_SECRET, under a pyinfra host context."""
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(file_text)
    for name in ("DB_PASSWORD", "APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    inventory = Inventory(([("box", {"doppler_project": "p", "doppler_config": None,
                                     "secrets_file": str(secrets_file)})], {}))
    with ctx_state.use(State(inventory, Config())), ctx_host.use(inventory.get_host("box")):
        try:
            return str(credentials.require("DB_PASSWORD", "APP_SECRET"))
        except DeployError as error:
            return f"DeployError: {error}"


def test_secrets_environment_wins_over_the_file(tmp_path, monkeypatch):
    out = _require(tmp_path, monkeypatch, {"APP_SECRET": "from-env"}, "DB_PASSWORD=from-file\nAPP_SECRET=file\n")
    assert out == str({"DB_PASSWORD": "from-file", "APP_SECRET": "from-env"})


def test_a_missing_secret_stops_the_deploy_naming_it(tmp_path, monkeypatch):
    out = _require(tmp_path, monkeypatch, {}, "DB_PASSWORD=x\n")
    assert out.startswith("DeployError: missing or empty secret(s) APP_SECRET for box")


def test_a_secret_systemd_would_mangle_is_refused(tmp_path, monkeypatch):
    out = _require(tmp_path, monkeypatch, {"APP_SECRET": "two words"}, "DB_PASSWORD=x\n")
    assert out.startswith("DeployError: secret APP_SECRET has a quote, space")
