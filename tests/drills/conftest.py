"""Drills are destructive: they run only against the sandbox, and each one
leaves the host as it found it, so the idempotency drill holds in any order."""

from pathlib import Path

import pytest

from tests.sandbox import secrets


@pytest.fixture(autouse=True)
def only_the_sandbox(target, sandbox_state):
    if not target.data.get("sandbox") or target.address != sandbox_state["address"]:
        pytest.fail("drills run only against the sandbox", pytrace=False)


@pytest.fixture(scope="session")
def sandbox_secrets(target) -> dict[str, str]:
    return secrets.read(Path(target.data["secrets_file"]))
