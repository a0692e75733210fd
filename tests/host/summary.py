"""The host checks' closing summary, one screen: per concern (the test module,
test_nginx.py is "nginx"), how many checks passed and failed, and for each
failure the check's name in words (what should hold) and the first line of its
assertion message (what does not). Registered by tests/host/conftest.py, so it
prints wherever the host tier runs."""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST_TIER = ("tests", "host")  # where a node id (relative to the repo) of a host check starts
REASONS_SHOWN = 3  # distinct failure reasons listed per concern; the rest are counted (pytest's report has them all)


@dataclass
class Concern:
    passed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (check, reason)

    def reasons(self) -> list[str]:
        """One line per distinct reason, in the order they came: "check: reason", or "N checks: reason"
        (an unreachable host, say, fails every check for the same reason)."""
        checks: dict[str, list[str]] = {}
        for check, reason in self.failures:
            checks.setdefault(reason, []).append(check)
        return [f"{names[0] if len(names) == 1 else f'{len(names)} checks'}: {reason}"
                for reason, names in checks.items()]


def concern_of(report: pytest.TestReport) -> str | None:
    """test_nginx.py's checks are "nginx"; None for a test of another tier (several may run at once)."""
    path = Path(report.nodeid.split("::", 1)[0])
    if path.parent.parts != HOST_TIER:
        return None
    return path.stem.removeprefix("test_")


def check_of(report: pytest.TestReport) -> str:
    """test_key_only_logins[x] -> "key only logins [x]": the check's name is a sentence."""
    name, _, parameters = report.nodeid.split("::", 1)[1].partition("[")
    return name.removeprefix("test_").replace("_", " ") + (f" [{parameters}" if parameters else "")


def reason_of(report: pytest.TestReport) -> str:
    """The failure's first line in words: the assertion's message, or the error pytest caught."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    first = text.strip().splitlines()[0] if text.strip() else "(no message)"
    return first.removeprefix("AssertionError: ").removeprefix("Failed: ")


class ConcernSummary:
    def __init__(self):
        self.concerns: dict[str, Concern] = defaultdict(Concern)

    def pytest_runtest_logreport(self, report: pytest.TestReport):
        concern = concern_of(report)
        if concern is None:
            return
        check = check_of(report)
        if report.failed:  # in setup (a fixture), the call or teardown: each counts once per phase
            phase = "" if report.when == "call" else f" (in {report.when})"
            self.concerns[concern].failures.append((check + phase, reason_of(report)))
        elif report.skipped:
            self.concerns[concern].skipped += 1
        elif report.when == "call":
            self.concerns[concern].passed += 1

    def pytest_terminal_summary(self, terminalreporter):
        if not self.concerns:
            return
        write = terminalreporter.write_line
        terminalreporter.section("host checks by concern")
        for name, concern in sorted(self.concerns.items()):
            counts = [f"{concern.passed} passed"]
            if concern.failures:
                counts.append(f"{len(concern.failures)} failed")
            if concern.skipped:
                counts.append(f"{concern.skipped} skipped")
            write(f"{'FAIL' if concern.failures else 'ok  '} {name:<14} {', '.join(counts)}",
                  red=bool(concern.failures), green=not concern.failures)
            reasons = concern.reasons()
            for line in reasons[:REASONS_SHOWN]:
                write(f"       {line}")
            if len(reasons) > REASONS_SHOWN:
                write(f"       ... and {len(reasons) - REASONS_SHOWN} more reasons (listed above)")
