"""Shared pieces of the drills. Drills are destructive and run only against
the sandbox; each puts the host back the way deploys/site.py leaves it, so
the idempotency drill holds in any order."""

import contextlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.inventory import REPO
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


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """A throwaway copy of the repo for a drill to change and deploy from
    (run_deploy(..., cwd=repo_copy)); the sandbox's inventory still applies."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
        ".git", ".sandbox", ".sandbox-*", ".venv", "backups", "__pycache__", ".pytest_cache", "*.secrets.env", "secrets.env"))
    return copy


@contextlib.contextmanager
def host_untouched(host, data: dict):
    """Fails unless nothing the deploys manage changed on the host inside the block
    (the app's own logs aside): /etc, app_dir, /usr/local, the deploys' state
    under /var/lib and the backups."""
    marker = host.check_output("mktemp /run/drill-untouched.XXXXXX")
    try:
        yield
        changed = host.check_output(
            "find /etc %s /usr/local /var/lib/pyinfra-* %s -newer %s -not -path %s -print",
            data["app_dir"], data["backup_dir"], marker, f"{data['app_dir']}/logs*")
    finally:
        host.run("rm -f %s", marker)
    assert changed == "", "the deploy changed the host:\n" + changed
