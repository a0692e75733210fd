"""Run pyinfra deploys against the sandbox and read what they changed (through pyinfra's API, not its printed table)."""

import json
import subprocess
import tempfile
import sys
from pathlib import Path

from tests.inventory import REPO

PYINFRA = Path(sys.executable).with_name("pyinfra")
RECORDER = REPO / "tests/recorded_deploy.py"


def deploy_argv(inventory: Path, deploy: str = "deploys/site.py", *args: str) -> list[str]:
    return [str(PYINFRA), "-y", str(inventory), deploy, *args]


def run_deploy(inventory: Path, deploy: str = "deploys/site.py", *args: str, env: dict | None = None,
               check: bool = True, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run a deploy from cwd: the repo, or a copy of it that a drill changed.
    The result's `record` is what tests/recorded_deploy.py recorded of it
    through pyinfra's API ({host: {"commands": [...], "operations": [...]}}), or
    None if the deploy stopped before pyinfra could write it."""
    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "record.json"
        argv = deploy_argv(inventory, str(RECORDER), *args, "--data", f"deploy={deploy}", "--data", f"record={record}")
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                              timeout=1800)
        proc.record = json.loads(record.read_text()) if record.exists() else None
    if check and proc.returncode != 0:
        raise AssertionError(f"{deploy} failed (exit {proc.returncode}):\n{proc.stdout[-8000:]}")
    return proc


def ran(proc: subprocess.CompletedProcess, command: str) -> bool:
    """Whether a recorded deploy ran `command` on some host (part of a longer command line counts)."""
    assert proc.record, f"the deploy recorded nothing (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
    return any(command in line for result in proc.record.values() for line in result["commands"])


def operations_run(proc: subprocess.CompletedProcess) -> list[str]:
    """The operations a recorded deploy ran on any host, by their names (none if it stopped while preparing)."""
    assert proc.record is not None, f"the deploy recorded nothing (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
    return [" / ".join(op["names"]) for result in proc.record.values() for op in result["operations"]]


def changed(proc: subprocess.CompletedProcess) -> list[str]:
    """The operations a recorded deploy changed something with, on any host, by their names."""
    assert proc.record, f"the deploy recorded nothing (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
    return [" / ".join(op["names"]) for result in proc.record.values() for op in result["operations"] if op["changed"]]
