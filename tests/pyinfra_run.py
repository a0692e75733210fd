"""Run pyinfra deploys against the sandbox and read what they changed."""

import re
import subprocess
import sys
from pathlib import Path

from tests.inventory import REPO

PYINFRA = Path(sys.executable).with_name("pyinfra")
RESULT_ROW = re.compile(r"^\s{4}(?P<operation>\S.*?)\s{2,}(?P<hosts>\d+)\s+(?P<success>\S+)\s+(?P<error>\S+)\s+(?P<nochange>\S+)\s*$")


def deploy_argv(inventory: Path, deploy: str = "deploys/site.py", *args: str) -> list[str]:
    return [str(PYINFRA), "-y", str(inventory), deploy, *args]


def run_deploy(inventory: Path, deploy: str = "deploys/site.py", *args: str, env: dict | None = None,
               check: bool = True, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run a deploy from cwd: the repo, or a copy of it that a drill changed."""
    proc = subprocess.run(deploy_argv(inventory, deploy, *args), cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"{deploy} failed (exit {proc.returncode}):\n{proc.stdout[-8000:]}")
    return proc


def changed_operations(output: str) -> list[str]:
    """Operations the Results table shows as changed (a count under Success)."""
    results = output.split("--> Results:", 1)
    if len(results) != 2:
        raise AssertionError("pyinfra printed no Results table:\n" + output[-3000:])
    changed = []
    for line in results[1].splitlines():
        row = RESULT_ROW.match(line)
        if row and row["operation"] != "Grand total" and row["success"] != "-":
            changed.append(row["operation"])
    return changed
