"""docs/statements.yaml against the tests: every statement of the infrastructure
document is proven by a test that names it, or deviates for a documented reason.
Which tests name which statements is read by collecting every tier the way
pytest does (nothing runs), so a test on a sandbox tier counts too."""

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from tests.document_commands import docs_anchors
from tests.inventory import REPO
from tests.statements import FAILED, NOT_RUN, PASSED, STATUSES, load_index, outcomes

INDEX = load_index()
STATEMENTS = INDEX["statements"]


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> dict[str, list[str]]:
    """Statement id -> the tests that name it, over every tier."""
    results = tmp_path_factory.mktemp("statements") / "collected.json"
    collect = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "", "-p",
                              "no:cacheprovider", f"--statements-results={results}", "tests"],
                             cwd=REPO, capture_output=True, text=True)
    assert collect.returncode == 0, collect.stdout[-3000:] + collect.stderr[-3000:]
    by_statement = {}
    for test in json.loads(results.read_text()):
        for statement in test["proves"]:
            by_statement.setdefault(statement, []).append(test["test"])
    return by_statement


def test_ids_are_unique():
    repeated = [statement for statement, count in Counter(s["id"] for s in STATEMENTS).items() if count > 1]
    assert not repeated, f"ids listed more than once: {repeated}"


@pytest.mark.parametrize("statement", STATEMENTS, ids=[s["id"] for s in STATEMENTS])
def test_each_entry_is_complete(statement):
    assert statement["section"] in INDEX["sections"], "unknown section"
    assert statement["quote"].strip(), "no quote"
    assert statement["status"] in STATUSES
    if statement["status"] == "deviates":
        assert statement.get("reason", "").strip(), "a deviation needs its reason"
        path, _, anchor = statement.get("docs", "").partition("#")
        assert path and (REPO / path).is_file(), f"docs: no file {path!r}"
        assert anchor in docs_anchors(REPO / path), f"docs: {path} has no heading #{anchor}"


def test_every_proven_statement_is_named_by_a_test(named):
    unproven = [s["id"] for s in STATEMENTS if s["status"] == "proven" and s["id"] not in named]
    assert not unproven, f"no test names {unproven}: add @pytest.mark.proves to the tests that prove them"


def test_tests_name_only_statements_that_need_a_test(named):
    by_id = {s["id"]: s["status"] for s in STATEMENTS}
    unknown = {statement: tests for statement, tests in named.items() if statement not in by_id}
    assert not unknown, f"not in docs/statements.yaml: {unknown}"
    not_proven = {statement: by_id[statement] for statement in named if by_id[statement] != "proven"}
    assert not not_proven, f"named by tests, so their status must be proven: {not_proven}"


def test_a_run_proves_a_statement_only_when_no_test_naming_it_failed():
    sessions = [[{"test": "a", "proves": ["X"], "outcome": "passed"},
                 {"test": "b", "proves": ["X", "Y"], "outcome": "failed"}],
                [{"test": "c", "proves": ["Z"], "outcome": "skipped"},
                 {"test": "d", "proves": ["W"], "outcome": None},
                 {"test": "e", "proves": ["V"], "outcome": "passed"}]]
    assert outcomes(sessions) == ({"X": FAILED, "Y": FAILED, "Z": NOT_RUN, "W": NOT_RUN, "V": PASSED},
                                  {"X": ["b"], "Y": ["b"]})
