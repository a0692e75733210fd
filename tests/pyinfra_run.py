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


def _count(cell: str) -> int:
    return 0 if cell == "-" else int(cell)


def changed_operations(output: str) -> list[str]:
    """Operations the Results table shows as changed (a count under Success).

    Fails unless the table was read: at least one operation row, and a Grand
    total row whose counts are the rows' sums. A table in a format this no
    longer reads must fail the check, not pass it with nothing parsed."""
    results = output.split("--> Results:", 1)
    if len(results) != 2:
        raise AssertionError("pyinfra printed no Results table:\n" + output[-3000:])
    rows, total = [], None
    for line in results[1].splitlines():
        row = RESULT_ROW.match(line)
        if not row:
            continue
        if row["operation"] == "Grand total":
            total = row
        else:
            rows.append(row)
    table = results[1][:3000]
    if not rows or total is None:
        raise AssertionError(f"could not read pyinfra's Results table ({len(rows)} rows, "
                             f"grand total {'found' if total else 'missing'}):\n{table}")
    for column in ("success", "error", "nochange"):
        if sum(_count(row[column]) for row in rows) != _count(total[column]):
            raise AssertionError(f"pyinfra's Results table does not add up ({column}), "
                                 f"so it was misread:\n{table}")
    return [row["operation"] for row in rows if row["success"] != "-"]
