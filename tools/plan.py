"""`make plan`: what a run of deploys/site.py would change, per host, read
from the hosts without changing them (deploys/plan.py, deploys/lib/plan.py).

    .venv/bin/python -m tools.plan .sandbox/inventory.py    # the sandbox (make plan)
    .venv/bin/python -m tools.plan inventory.py             # production (make plan INVENTORY=inventory.py)

Exit codes, as Terraform's `plan -detailed-exitcode`: 0 nothing would
change, 2 something would, 1 the plan could not be made (pyinfra's output
is printed then).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYINFRA = Path(sys.executable).with_name("pyinfra")
NOTHING, CHANGES, ERROR = 0, 2, 1
KINDS = (("file", "Files (owners, modes, links, directories)"), ("package", "Packages"), ("user", "Users"),
         ("unit", "Units and timers"), ("other", "Other operations"))


def make_plans(inventory: str) -> tuple[dict | None, str]:
    """Every host's plan (None if pyinfra failed before writing them), and pyinfra's output."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "plan.json"
        proc = subprocess.run([str(PYINFRA), "-y", "--dry", inventory, "deploys/plan.py", "--data", f"plan_out={out}"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        plans = json.loads(out.read_text()) if proc.returncode == 0 and out.exists() else None
    return plans, proc.stdout


SHOWN = 200  # characters of a command shown: enough to say what it does


def _operation(entry: dict) -> list[str]:
    return [f"    ~ {entry['name']}", *(f"        {command[:SHOWN]}{'…' if len(command) > SHOWN else ''}"
                                      for command in entry["commands"])]


def report(name: str, plan: dict) -> list[str]:
    """The lines that say what would change on one host; one line when nothing would."""
    if not any(plan.values()):
        return [f"{name}: no changes."]
    lines = [f"{name}: would change"]
    if plan["files"]:
        lines.append("  Files that differ from what the deploy writes:")
        for each in plan["files"]:
            lines += [f"    ~ {each['path']}  ({each['name']})", *(f"      {line}" for line in each["diff"].splitlines())]
    for kind, title in KINDS:
        entries = [entry for entry in plan["changes"] if entry["kind"] == kind]
        if entries:
            lines.append(f"  {title}:")
            lines += [line for entry in entries for line in _operation(entry)]
    if plan["follows"]:
        lines.append("  Would follow from the changes above (their outcome is known only once they are made):")
        lines += [line for entry in plan["follows"] for line in _operation(entry)]
    if plan["unknown"]:
        lines.append("  Could not tell (the condition could not be evaluated):")
        lines += [f"    ? {entry['name']}: {entry['why']}" for entry in plan["unknown"]]
    return lines


def main(inventory: str) -> int:
    plans, output = make_plans(inventory)
    if plans is None or None in plans.values():
        failed = ", ".join(name for name, plan in (plans or {}).items() if plan is None) or "every host"
        print(f"{output}\nplan: no plan for {failed} (pyinfra's output above)", file=sys.stderr)
        return ERROR
    for name, plan in plans.items():
        print("\n".join(report(name, plan)))
    return CHANGES if any(any(plan.values()) for plan in plans.values()) else NOTHING


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} INVENTORY")
    sys.exit(main(sys.argv[1]))
