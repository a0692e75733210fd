"""make verify's output without a host (so in the fast tier): its closing summary
(tests/host/summary.py), fed pytest reports as a run would (counts per concern,
failures in words, other tiers left out), and the diff a drifted file's failure shows."""

from types import SimpleNamespace

import pytest

from tests.host.conftest import DIFF_LINES, assert_settings, first_lines_of_diff
from tests.host.summary import REASONS_SHOWN, ConcernSummary


def report(nodeid: str, outcome: str, when: str = "call", message: str = "") -> pytest.TestReport:
    crash = SimpleNamespace(reprcrash=SimpleNamespace(message=message)) if outcome == "failed" else None
    return pytest.TestReport(nodeid, (nodeid.split("::")[0], 1, nodeid), {}, outcome, crash, when)


class Terminal:
    def __init__(self):
        self.lines: list[str] = []

    def section(self, title):
        self.lines.append(f"== {title}")

    def write_line(self, line, **markup):
        self.lines.append(line)


def summary_of(*reports: pytest.TestReport) -> list[str]:
    summary, terminal = ConcernSummary(), Terminal()
    for each in reports:
        summary.pytest_runtest_logreport(each)
    summary.pytest_terminal_summary(terminal)
    return terminal.lines


def test_counts_per_concern_and_each_failure_in_words():
    lines = summary_of(
        report("tests/host/test_nginx.py::test_nginx_running_on_a_valid_config", "passed"),
        report("tests/host/test_nginx.py::test_site_enabled_and_default_gone", "failed",
               message="AssertionError: the nginx site differs from the repo's template:\n--- a\n+++ b"),
        report("tests/host/test_ssh.py::test_only_modern_algorithms[ciphers-ssh_ciphers]", "passed"),
        report("tests/host/test_ssh.py::test_key_only_logins", "failed", message="assert 'yes' == 'no'"),
        report("tests/host/test_backups.py::test_newest_backup_matches_its_checksums_and_decrypts", "failed",
               when="setup", message="Failed: no complete backups in /root/backups"),
    )
    assert lines == [
        "== host checks by concern",
        "FAIL backups        0 passed, 1 failed",
        "       newest backup matches its checksums and decrypts (in setup): no complete backups in /root/backups",
        "FAIL nginx          1 passed, 1 failed",
        "       site enabled and default gone: the nginx site differs from the repo's template:",
        "FAIL ssh            1 passed, 1 failed",
        "       key only logins: assert 'yes' == 'no'",
    ]


def test_setup_and_teardown_of_a_passing_check_count_it_once_and_skips_are_shown():
    nodeid = "tests/host/test_logs.py::test_log_retention"
    lines = summary_of(report(nodeid, "passed", "setup"), report(nodeid, "passed"), report(nodeid, "passed", "teardown"),
                       report("tests/host/test_logs.py::test_journal_is_persistent_and_keeps_the_units_output",
                              "skipped", "setup"))
    assert lines == ["== host checks by concern", "ok   logs           1 passed, 1 skipped"]


def test_other_tiers_are_left_out_and_nothing_is_printed_without_host_checks():
    assert summary_of(report("tests/outside/test_internet.py::test_https", "failed", message="refused"),
                      report("tests/drills/test_rollback.py::test_rollback", "passed")) == []


def test_a_concern_lists_its_first_failures_and_counts_the_rest():
    failures = [report(f"tests/host/test_app.py::test_check_{n}", "failed", message=f"reason {n}")
                for n in range(REASONS_SHOWN + 2)]
    lines = summary_of(*failures)
    assert lines[1] == f"FAIL app            0 passed, {REASONS_SHOWN + 2} failed"
    assert lines[2:] == [f"       check {n}: reason {n}" for n in range(REASONS_SHOWN)] + \
        ["       ... and 2 more reasons (listed above)"]


def test_checks_failing_for_the_same_reason_share_one_line():
    unreachable = "cannot reach ssh://root@192.0.2.1 over SSH: Connection refused"
    lines = summary_of(*(report(f"tests/host/test_ssh.py::test_check_{n}", "failed", "setup", f"Failed: {unreachable}")
                         for n in range(5)))
    assert lines[1:] == ["FAIL ssh            0 passed, 5 failed", f"       5 checks: {unreachable}"]


def test_a_drifted_file_shows_the_first_lines_of_its_diff():
    repo = "".join(f"line {n}\n" for n in range(100))
    host = repo.replace("line 10\n", "line ten\n")
    assert first_lines_of_diff(repo, host, "repo", "host").splitlines() == [
        "--- repo", "+++ host", "@@ -10,3 +10,3 @@", " line 9", "-line 10", "+line ten", " line 11"]


def test_a_long_diff_is_cut_saying_how_much_is_left():
    shown = first_lines_of_diff("a\n" * 100, "b\n" * 100, "repo", "host").splitlines()
    assert len(shown) == DIFF_LINES + 1 and shown[-1] == f"... {203 - DIFF_LINES} more lines"


def test_settings_that_differ_are_each_named_with_both_values():
    with pytest.raises(AssertionError) as failure:
        assert_settings({"passwordauthentication": "yes", "pubkeyauthentication": "yes"},
                        {"passwordauthentication": "no", "pubkeyauthentication": "yes", "maxsessions": "10"}, "sshd -T")
    assert str(failure.value).splitlines()[0] == \
        "sshd -T: passwordauthentication is 'yes', not 'no'; maxsessions is '(unset)', not '10'"
    assert_settings({"a": "1", "b": "2"}, {"a": "1"}, "anything")  # what is not asked about is not judged
