"""Shared pieces of the drills. Drills are destructive and run only against
the sandbox; each puts the host back the way deploys/site.py leaves it, so
the idempotency drill holds in any order."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.pyinfra_run import run_deploy
from tests.sandbox import secrets


@pytest.fixture(autouse=True)
def only_the_sandbox(target, sandbox_state):
    if not target.data.get("sandbox") or target.address != sandbox_state["address"]:
        pytest.fail("drills run only against the sandbox", pytrace=False)


@pytest.fixture(scope="session")
def sandbox_secrets(target) -> dict[str, str]:
    return secrets.read(Path(target.data["secrets_file"]))


def deploy_with(inventory, deploy: str, **data) -> subprocess.CompletedProcess:
    """Run one deploy with group data overridden (JSON values); never raises."""
    args = [arg for key, value in data.items() for arg in ("--data", f"{key}={json.dumps(value)}")]
    return run_deploy(inventory, deploy, *args, check=False)


def ssh(state: dict, user: str, key: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                           "-o", "ConnectTimeout=5", "-o", f"UserKnownHostsFile={state['known_hosts']}",
                           "-o", "StrictHostKeyChecking=yes", f"{user}@{state['address']}", *(command or ["true"])],
                          capture_output=True, text=True, timeout=60)
