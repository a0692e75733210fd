"""Helpers for the read-only host checks. Everything they compare against
comes from the inventory's data (target.data), never from sandbox defaults."""

import datetime as dt
import difflib
import re

import pytest

from app.config import WEB
from deploys.lib.app_runtime import env_file
from deploys.lib.validated import STAGING_DIR
from tests.host.summary import ConcernSummary


def pytest_configure(config):
    config.pluginmanager.register(ConcernSummary(), "host-concern-summary")


TABLES = {"users", "instagram_accounts", "instagram_pages", "access_tokens", "token_refresh_log",
          "webhook_events", "webhook_event_log"}
DIFF_LINES = 25  # of a unified diff shown in a failure: enough to see what drifted, short enough to read


def first_lines_of_diff(expected: str, actual: str, expected_name: str, actual_name: str) -> str:
    """The first DIFF_LINES lines of a unified diff from expected to actual."""
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), expected_name, actual_name,
                                     lineterm="", n=1))
    shown = diff[:DIFF_LINES] + ([f"... {len(diff) - DIFF_LINES} more lines"] if len(diff) > DIFF_LINES else [])
    return "\n".join(shown) or "(they differ only in line endings or the final newline)"


def assert_live_is_the_rendered_template(host, live: str, what: str) -> None:
    """deploys/lib/validated.py renders the repo's template to STAGING_DIR/<live> and puts it live only once
    its checker accepts it: a live file that differs was edited by hand, or its checker refused the new one."""
    staged = f"{STAGING_DIR}{live}"
    both = host.run("cat %s && printf '\\0' && cat %s", live, staged)
    assert both.rc == 0, f"cannot read {what} ({live}) or the deploy's rendering of it ({staged}): {both.stderr}"
    live_text, staged_text = both.stdout.split("\0", 1)
    if live_text != staged_text:  # pytest.fail: the diff says it all, pytest's own comparison would repeat it
        pytest.fail(f"{what} differs from the repo's template as the deploy rendered it: edited by hand, or the "
                    f"deploy's new version was refused by its checker. The first differing lines:\n"
                    + first_lines_of_diff(staged_text, live_text, f"{staged} (rendered from the repo)",
                                          f"{live} (live)"), pytrace=False)


def read_env_names(host, data: dict, process: str = WEB) -> set[str]:
    """The variable names in a process's environment file (names only: values are never read into the test run)."""
    return set(host.check_output("cut -d= -f1 %s | grep -v '^#'", env_file(process, data["app_dir"])).split())


def app_curl(data: dict) -> str:
    """curl to the app itself, on its socket (as root: only root and nginx's group may connect); add the URL,
    http://localhost/<path>."""
    return f"curl -sS --unix-socket {data['app_socket']}"


def assert_settings(found: dict, wanted: dict, source: str) -> None:
    """Each wanted setting has its value in found (as read from source); a failure names every one that differs."""
    wrong = [f"{name} is {found.get(name, '(unset)')!r}, not {value!r}" for name, value in wanted.items()
             if found.get(name) != value]
    assert wrong == [], f"{source}: " + "; ".join(wrong)


def assert_enabled_and_running(host, unit: str) -> None:
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled: it would not start at boot"
    assert service.is_running, f"{unit} is not running (systemctl status {unit})"


def assert_owner_and_mode(file, owner: str, group: str, mode: int) -> None:
    """file (a testinfra host.file) is owner:group with mode; a failure says what it is instead, as ls would."""
    assert (file.user, file.group, file.mode) == (owner, group, mode), \
        f"{file.path} is {file.user}:{file.group} {file.mode:04o}, not {owner}:{group} {mode:04o}"


def unit_properties(host, unit: str, *names: str) -> dict[str, str]:
    out = host.check_output("systemctl show %s -p %s", unit, ",".join(names))
    return dict(line.split("=", 1) for line in out.splitlines())


def assert_exposure_at_most(host, unit: str, most: float, limit: str) -> None:
    """unit's overall exposure level from `systemd-analyze security` (0 to 10), what its unit file and
    drop-ins, as loaded, allow, is at most `most` (named `limit` in the failure)."""
    out = host.check_output("systemd-analyze security --no-pager %s | tail -1", unit)
    level = float(re.search(r"exposure level for \S+: ([\d.]+)", out)[1])
    assert level <= most, f"{unit}'s exposure (systemd-analyze security) is {level}, above {limit} ({most}): " \
        "its sandboxing drop-in is missing, not loaded (daemon-reload) or loosened"


def process_status(host, pid: str) -> dict[str, str]:
    """/proc/<pid>/status as {field: value}: what the running process really got
    (systemd-analyze scores the unit as loaded, not the process started before it)."""
    out = host.check_output("cat /proc/%s/status", pid)
    return {name: value.strip() for name, value in (line.split(":", 1) for line in out.splitlines())}


def main_process_status(host, unit: str) -> dict[str, str]:
    pid = unit_properties(host, unit, "MainPID")["MainPID"]
    assert pid != "0", f"{unit} has no main process"
    return process_status(host, pid)


def listeners(host, port: int) -> set[str]:
    """Local addresses with a TCP socket listening on port."""
    out = host.check_output("ss -Hltn 'sport = :%s'", str(port))
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines()}


def next_elapse(host, timer: str) -> dt.datetime:
    raw = host.check_output("systemctl show -P NextElapseUSecRealtime %s", timer)
    assert raw, f"{timer} has no next elapse: it is not scheduled"
    elapse = dt.datetime.fromtimestamp(int(host.check_output("date -u +%%s -d %s", raw)), dt.timezone.utc)
    assert elapse > dt.datetime.now(dt.timezone.utc), f"{timer}'s next elapse {elapse} is in the past"
    return elapse


def calendar_elapses(host, timer: str, iterations: int = 3) -> list[dt.datetime]:
    """The timer's next `iterations` elapses, from its own OnCalendar= as systemd
    loaded it (TimersCalendar), computed by `systemd-analyze calendar`."""
    loaded = host.check_output("systemctl show -P TimersCalendar %s", timer)
    schedules = re.findall(r"OnCalendar=(.*?) ;", loaded)
    assert len(schedules) == 1, f"{timer}: expected one OnCalendar=, systemd has {loaded!r}"
    out = host.check_output("TZ=UTC systemd-analyze calendar --iterations=%s %s", str(iterations), schedules[0])
    elapses = [dt.datetime.strptime(when, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=dt.timezone.utc)
               # systemd 252 labels the later elapses "Iter. #2", systemd 257 "Iteration #2".
               for when in re.findall(r"(?:Next elapse|Iter(?:\.|ation) #\d+): (.+ UTC)$", out, re.MULTILINE)]
    assert len(elapses) == iterations, out
    return elapses


def assert_every(elapses: list[dt.datetime], period: dt.timedelta) -> None:
    gaps = [later - earlier for earlier, later in zip(elapses, elapses[1:])]
    assert gaps == [period] * len(gaps), f"elapses {elapses} are not {period} apart"
