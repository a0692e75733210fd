"""Tiers by directory, the --inventory option, and a guard against tiers that
quietly skip: with NO_SKIPS=1 (as `make test` sets) any skip fails the run."""

import json
import os
from pathlib import Path

import pytest

from tests import inventory
from tests.sandbox.harness import state_dir

# The statements report (docs/statements.yaml): every session records what its tests prove.
pytest_plugins = ["tests.statements"]

TESTS = Path(__file__).resolve().parent
TIER_MARKERS = {"app": "fast", "deploys": "fast", "host": "read_only_host_check", "outside": "outside", "drills": "drill"}


def pytest_addoption(parser):
    parser.addoption("--inventory", default=str(state_dir() / "inventory.py"),
                     help="pyinfra inventory whose hosts tests/host checks (default: the sandbox)")


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        if tier in TIER_MARKERS:
            item.add_marker(getattr(pytest.mark, TIER_MARKERS[tier]))


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("NO_SKIPS") == "1" and skipped:
        reporter.write_line(f"NO_SKIPS=1: {len(skipped)} test(s) skipped; a skipped check is not a pass",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def inventory_hosts(request):
    path = Path(request.config.getoption("--inventory"))
    if not path.exists():
        pytest.fail(f"inventory {path} does not exist (for the sandbox: make sandbox)", pytrace=False)
    return inventory.load(path)


@pytest.fixture(scope="session")
def target(inventory_hosts):
    """The host under test (the first in the inventory) and its data."""
    return inventory_hosts[0]


@pytest.fixture(scope="session")
def host(target):
    import testinfra

    spec, kwargs = target.testinfra_spec()
    host = testinfra.get_host(spec, **kwargs)
    try:  # once: an unreachable host is one reason, not a different ssh error in every check
        host.run("true")
    except RuntimeError as error:  # testinfra's, when ssh itself fails (exit 255)
        pytest.fail(f"cannot reach {spec} over SSH: {error.args[0].stderr.strip()}", pytrace=False)
    return host


@pytest.fixture(scope="session")
def sandbox_state():
    """The running sandbox's state; drills and outside probes need the sandbox itself."""
    path = state_dir() / "state.json"
    if not path.exists():
        pytest.fail("no sandbox is up (make sandbox)", pytrace=False)
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def sandbox_inventory(sandbox_state) -> Path:
    return state_dir() / "inventory.py"


@pytest.fixture(scope="session")
def psql(host, target):
    """Run one query as postgres in the app's database; returns the rows as lists of strings."""
    def query(sql: str) -> list[list[str]]:
        out = host.check_output("cd / && runuser -u postgres -- psql -XAt -F '|' -d %s -c %s",
                                target.data["db_name"], sql)
        return [line.split("|") for line in out.splitlines()]
    return query
