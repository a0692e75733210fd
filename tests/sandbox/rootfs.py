"""The cached Debian root filesystem every sandbox host boots a fresh copy of.

Built once with debootstrap and kept outside the repo, keyed by release and
package list, so a new sandbox costs a copy, not a bootstrap.
"""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

# The Debian release the sandbox host runs: bookworm (Debian 12) or trixie (Debian 13).
RELEASE = os.environ.get("SANDBOX_RELEASE") or "bookworm"
RELEASES = ("bookworm", "trixie")
if RELEASE not in RELEASES:  # checked on import: a misspelt release must not name another release's sandbox
    raise SystemExit(f"sandbox: SANDBOX_RELEASE={RELEASE!r} is not one of {', '.join(RELEASES)}")
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo",
    "ca-certificates", "iproute2",
)
CACHE_ROOT = Path("/var/cache/insta-sandbox")
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def cache_path() -> Path:
    key = hashlib.sha256(" ".join((RELEASE, *PACKAGES)).encode()).hexdigest()[:12]
    return CACHE_ROOT / f"rootfs-{RELEASE}-{key}"


def machine_mirror() -> str:
    """The Debian mirror this machine's own apt sources use (never hard-coded)."""
    sources = APT_SOURCES.read_text() if APT_SOURCES.exists() else Path("/etc/apt/sources.list").read_text()
    for line in sources.splitlines():
        match = re.match(r"\s*(?:URIs:|deb)\s+(\S+)", line)
        if match and "security" not in match.group(1):
            return match.group(1)
    raise SystemExit("sandbox: no Debian mirror found in this machine's apt sources")


def ensure_cached_rootfs(log) -> Path:
    target = cache_path()
    if (target / "etc/os-release").exists():
        return target
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    log(f"building the sandbox root filesystem in {target} (about a minute, once)")
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
         RELEASE, str(building), machine_mirror()],
        check=True, stdout=subprocess.DEVNULL,
    )
    _adopt_machine_apt_sources(building)
    _install_extra_cas(building)
    # Host keys are made per host at boot time, never shared through the cache.
    for key in (building / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (building / "etc/machine-id").write_text("")
    building.rename(target)
    return target


def _adopt_machine_apt_sources(root: Path) -> None:
    """This machine's mirrors, with its release's suites renamed to the sandbox's."""
    if APT_SOURCES.exists():
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        machine_release = re.search(r"^VERSION_CODENAME=(\S+)", Path("/etc/os-release").read_text(), re.M)[1]
        sources = re.sub(rf"\b{machine_release}(?=[\s-])", RELEASE, APT_SOURCES.read_text())
        (root / "etc/apt/sources.list.d/debian.sources").write_text(sources)


def _install_extra_cas(root: Path) -> None:
    """HTTPS from the sandbox goes through this machine's egress and its CA."""
    cas = sorted(EXTRA_CA_DIR.glob("*.crt"))
    if not cas:
        return
    for ca in cas:
        shutil.copy(ca, root / "usr/local/share/ca-certificates" / ca.name)
    subprocess.run(["chroot", str(root), "update-ca-certificates"], check=True,
                   stdout=subprocess.DEVNULL)
