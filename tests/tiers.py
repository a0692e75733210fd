"""Run every test tier in order against a fresh sandbox, always tear it down,
and fail on any tier that failed or did not run.

    python -m tests.tiers 3.10 3.12   # what `make test` runs: the app's tier also on these Pythons
"""

import os
import shutil
import subprocess
import sys
import time

from tests import statements
from tests.inventory import REPO
from tests.pyinfra_run import deploy_argv
from tests.sandbox.harness import state_dir

PYTHON = sys.executable
# Each pytest tier records what its tests proved here; the run reports them together at its end.
STATEMENT_RESULTS = REPO / "reports/statements-tiers"


def pytest_argv(results: str, *args: str, python: str = PYTHON) -> list[str]:
    return [python, "-m", "pytest", "-p", "no:cacheprovider",
            f"--statements-results={STATEMENT_RESULTS}/{results}.json", *args]


def tiers(inventory: str, compat_pythons: list[str]) -> list[tuple[str, list[str]]]:
    """compat_pythons: the other Pythons the app runs on, each with its venv (`make compat-venvs`)."""
    return [
        ("fast (app and deploy logic, no sandbox)", pytest_argv("fast", "-m", "fast", "tests/app", "tests/deploys")),
        *((f"fast, the app on Python {version}",
           pytest_argv(f"fast-py{version}", "-m", "fast", "tests/app",
                       python=str(REPO / f".venv-py{version}/bin/python")))
          for version in compat_pythons),
        ("sandbox up", [PYTHON, "-m", "tests.sandbox", "up"]),
        ("first deploy of deploys/site.py", deploy_argv(inventory)),
        ("host checks (read-only)",
         pytest_argv("host", "-m", "read_only_host_check", "tests/host", f"--inventory={inventory}")),
        ("outside probes", pytest_argv("outside", "-m", "outside", "tests/outside")),
        # Before the other drills, so that they (the second, no-change run included) run on the restored host.
        ("disaster recovery drill (destroys, rebuilds and restores the sandbox)",
         [PYTHON, "-m", "tests.drills.disaster_recovery"]),
        ("drills (destructive, sandbox only)", pytest_argv("drills", "-m", "drill", "tests/drills")),
    ]


def main(compat_pythons: list[str]) -> int:
    env = {**os.environ, "NO_SKIPS": "1"}
    inventory = str(state_dir() / "inventory.py")
    shutil.rmtree(STATEMENT_RESULTS, ignore_errors=True)  # an earlier run's records are not this run's
    results = []
    try:
        for title, argv in tiers(inventory, compat_pythons):
            print(f"\n===== tier: {title} =====\n$ {' '.join(argv)}", flush=True)
            started = time.monotonic()
            code = subprocess.run(argv, cwd=REPO, env=env).returncode
            # pytest exits 5 when it collected nothing: a tier that did not run.
            outcome = "passed" if code == 0 else ("did not run (no tests)" if code == 5 else f"failed (exit {code})")
            results.append((title, f"{outcome} in {time.monotonic() - started:.0f}s"))
            if code != 0:
                break
    finally:
        # down fails, naming them, if it left anything behind.
        code = subprocess.run([PYTHON, "-m", "tests.sandbox", "down"], cwd=REPO).returncode
        results.append(("sandbox down, nothing left behind", "passed" if code == 0 else f"failed (exit {code})"))
    print(statements.write_report(statements.read_results(sorted(STATEMENT_RESULTS.glob("*.json")))))
    ran = {title for title, _ in results}
    results[-1:-1] = [(title, "did not run (an earlier tier failed)")
                      for title, _ in tiers(inventory, compat_pythons) if title not in ran]
    print("\n===== tiers =====")
    for title, outcome in results:
        print(f"  {title}: {outcome}")
    passed = sum(outcome.startswith("passed") for _, outcome in results)
    print(f"tiers: {passed} passed, {len(results) - passed} failed", flush=True)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
