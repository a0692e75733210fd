"""Helpers for the read-only host checks. Everything they compare against
comes from the inventory's data (target.data), never from sandbox defaults."""

import datetime as dt
import re

from app.config import WEB
from deploys.lib.app_runtime import env_file

TABLES = {"users", "instagram_accounts", "instagram_pages", "access_tokens", "token_refresh_log",
          "webhook_events", "webhook_event_log"}


def read_env_names(host, data: dict, process: str = WEB) -> set[str]:
    """The variable names in a process's environment file (names only: values are never read into the test run)."""
    return set(host.check_output("cut -d= -f1 %s | grep -v '^#'", env_file(process, data["app_dir"])).split())


def app_curl(data: dict) -> str:
    """curl to the app itself, on its socket (as root: only root and nginx's group may connect); add the URL,
    http://localhost/<path>."""
    return f"curl -sS --unix-socket {data['app_socket']}"


def unit_properties(host, unit: str, *names: str) -> dict[str, str]:
    out = host.check_output("systemctl show %s -p %s", unit, ",".join(names))
    return dict(line.split("=", 1) for line in out.splitlines())


def exposure(host, unit: str) -> float:
    """unit's overall exposure level from `systemd-analyze security` (0 to 10):
    what its unit file and drop-ins, as loaded, allow."""
    out = host.check_output("systemd-analyze security --no-pager %s | tail -1", unit)
    return float(re.search(r"exposure level for \S+: ([\d.]+)", out)[1])


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
