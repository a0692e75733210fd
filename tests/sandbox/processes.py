"""Background processes the harness starts, tracked by pid and ended only by pid."""

import os
import signal
import subprocess
import time
from pathlib import Path


def start(argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **(env or {})}, cwd=cwd)
    return proc.pid


def is_ours(pid: int | None, marker: str) -> bool:
    """True if pid is alive and still the process we started (guards pid reuse)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return marker in cmdline and state != "Z"


def stop(pid: int | None, marker: str, grace: float = 10.0) -> None:
    if not is_ours(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_ours(pid, marker):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    while is_ours(pid, marker):
        _reap(pid)
        time.sleep(0.1)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def in_pid_namespace(namespace: str | None) -> list[int]:
    """Every process in a pid namespace (a container's), seen from outside it."""
    if not namespace:
        return []
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and pid_namespace(int(entry.name)) == namespace]


def kill_pid_namespace(namespace: str | None, timeout: float = 10.0) -> None:
    """SIGKILL everything in a container's pid namespace and wait until it is gone."""
    deadline = time.monotonic() + timeout
    while (pids := in_pid_namespace(namespace)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
