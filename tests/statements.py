"""The traceability report: which statements of the infrastructure document
(docs/statements.yaml) this run proved.

Tests name the statements they prove with @pytest.mark.proves("S3.1-service", ...).
As a pytest plugin (tests/conftest.py loads it) every session records, for each
collected test, the statements it names and how it ended. A session run by hand
or by `make verify` then prints the report per section and writes it to
reports/statements.md; a session given --statements-results=PATH writes its
record there instead, and whoever ran the sessions (tests/tiers.py) reports
them together with `write_report`.
"""

import json
from collections import defaultdict
from pathlib import Path

import yaml

from tests.inventory import REPO

INDEX = REPO / "docs/statements.yaml"
REPORT = REPO / "reports/statements.md"
STATUSES = ("proven", "deviates")
PASSED, FAILED, NOT_RUN = "proven", "FAILED", "not run"
STATES = (PASSED, FAILED, NOT_RUN, "deviates")  # in the report's order


def load_index() -> dict:
    return yaml.safe_load(INDEX.read_text())


def named_statements(item) -> list[str]:
    return [statement for marker in item.iter_markers("proves") for statement in marker.args]


class Recorder:
    """Each collected test's statements and outcome: passed only if its call passed and
    nothing around it failed; failed if any phase failed; otherwise it did not run."""

    def __init__(self, config):
        self.config = config
        self.tests: dict[str, dict] = {}

    def pytest_collection_finish(self, session):
        self.tests = {item.nodeid: {"test": item.nodeid, "proves": named_statements(item), "outcome": None}
                      for item in session.items}

    def pytest_runtest_logreport(self, report):
        test = self.tests.get(report.nodeid)
        if test is None or test["outcome"] == "failed":
            return
        if report.failed:
            test["outcome"] = "failed"
        elif report.when == "call":
            test["outcome"] = "passed" if report.passed and not hasattr(report, "wasxfail") else "skipped"

    def pytest_sessionfinish(self, session):
        results = self.config.getoption("--statements-results")
        if results:
            Path(results).parent.mkdir(parents=True, exist_ok=True)
            Path(results).write_text(json.dumps(list(self.tests.values())))

    def pytest_terminal_summary(self, terminalreporter):
        if not self.config.getoption("--statements-results") and not self.config.getoption("--collect-only"):
            terminalreporter.write(write_report([list(self.tests.values())]))


def pytest_addoption(parser):
    parser.addoption("--statements-results", metavar="PATH",
                     help="write which statements each test names and how it ended to PATH (JSON) "
                          "instead of printing the statements report (tests/tiers.py combines them)")


def pytest_configure(config):
    config.pluginmanager.register(Recorder(config), "statements-recorder")


def outcomes(sessions: list[list[dict]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Per named statement, across every session's tests: FAILED if a test naming it failed,
    proven if one passed, else not run; and the tests that failed it."""
    ends, failed_by = defaultdict(set), defaultdict(list)
    for tests in sessions:
        for test in tests:
            for statement in test["proves"]:
                ends[statement].add(test["outcome"])
                if test["outcome"] == "failed":
                    failed_by[statement].append(test["test"])
    return ({statement: FAILED if "failed" in seen else PASSED if "passed" in seen else NOT_RUN
             for statement, seen in ends.items()}, failed_by)


def write_report(sessions: list[list[dict]]) -> str:
    """The report of these sessions' records, ready to print; also written, as Markdown, to reports/statements.md."""
    index = load_index()
    ran, failed_by = outcomes(sessions)
    by_section = defaultdict(list)
    for statement in index["statements"]:
        state = ran.get(statement["id"], NOT_RUN) if statement["status"] == "proven" else statement["status"]
        by_section[statement["section"]].append((statement, state))
    lines, rows, totals = [], [], defaultdict(int)
    for section, title in index["sections"].items():
        groups = defaultdict(list)
        for statement, state in by_section[section]:
            groups[state].append(statement["id"])
            totals[state] += 1
            note = {"deviates": f"{statement.get('reason')} ({statement.get('docs')})",
                    FAILED: "failed: " + ", ".join(f"`{test}`" for test in failed_by[statement["id"]])}.get(state, "")
            rows.append(f"| {section} | `{statement['id']}` | {statement['quote']} | {state} | {note} |")
        lines.append(f"§{section} {title}: " + "; ".join(f"{state} {' '.join(groups[state])}"
                                                          for state in STATES if groups[state]))
    summary = f"{len(index['statements'])} statements: " + ", ".join(f"{totals[state]} {state}" for state in STATES)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join([
        "# The infrastructure document, statement by statement: this run", "", summary, "",
        "| § | statement | the document says | this run | why / who |", "|---|---|---|---|---|", *rows, ""]))
    return "\n".join(["", "===== statements of the infrastructure document (docs/statements.yaml): this run =====",
                      *lines, summary, f"written to {REPORT.relative_to(REPO)}", ""])


def read_results(paths: list[Path]) -> list[list[dict]]:
    return [json.loads(path.read_text()) for path in paths]

