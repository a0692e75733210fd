"""Probes of the sandbox host from two vantage points the harness made:

- `internet`: the outside namespace (an address that is not in admin_ips);
- `admin`: the machine side of the sandbox network (the gateway, in admin_ips).

Traffic goes only to the sandbox host's address, bounded in count and time.
"""

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.inventory import REPO


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: str


@dataclass(frozen=True)
class Vantage:
    netns: str | None  # None: the machine side
    address: str  # the sandbox host
    domain: str
    pebble_root: str

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return subprocess.run([*prefix, *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def probe(self, *args: str) -> dict:
        proc = self.run(sys.executable, "-m", "tests.outside.probe", *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def curl(self, url: str, *options: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """curl trusting only Pebble's root, with the domain pinned to the host (no DNS, no proxy)."""
        return self.run("curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "10",
                        "--cacert", self.pebble_root,
                        "--resolve", f"{self.domain}:443:{self.address}",
                        "--resolve", f"{self.domain}:80:{self.address}", *options, url, timeout=timeout)

    def status(self, url: str, *options: str) -> int:
        proc = self.curl(url, "--output", "/dev/null", "--write-out", "%{http_code}", *options)
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout)

    def fetch(self, url: str, *options: str) -> Reply:
        """One request, body decompressed. A header sent twice shows as its values joined by ", "."""
        proc = self.curl(url, "--compressed", "--dump-header", "-", *options)
        assert proc.returncode == 0, proc.stderr
        head, _, body = proc.stdout.partition("\n\n")  # text mode: CRLF arrives as LF
        lines = head.splitlines()
        headers: dict[str, str] = {}
        for name, value in (line.split(":", 1) for line in lines[1:] if ":" in line):
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return Reply(int(lines[0].split()[1]), headers, body)

    def burst(self, url: str, count: int, *options: str) -> list[str]:
        """`count` requests one after another on one connection; their status codes."""
        proc = self.curl(url, "--write-out", "%{http_code}\n", "--output", "/dev/null", *options,
                         *(["--output", "/dev/null", url] * (count - 1)), timeout=120)
        codes = proc.stdout.split()
        assert len(codes) == count, proc.stderr
        return codes


@pytest.fixture(scope="session")
def internet(sandbox_state) -> Vantage:
    return Vantage(sandbox_state["outside_netns"], sandbox_state["address"], sandbox_state["domain"],
                   sandbox_state["pebble_root"])


@pytest.fixture(scope="session")
def admin(sandbox_state) -> Vantage:
    return Vantage(None, sandbox_state["address"], sandbox_state["domain"], sandbox_state["pebble_root"])
