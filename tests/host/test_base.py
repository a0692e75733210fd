"""deploys/base.py, as the host shows it. Read-only: safe against production."""

import ipaddress
import re

import pytest

from deploys.lib.facts import PendingSecurityUpgrades
from tests.host.conftest import assert_enabled_and_running


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def test_timezone_is_utc(host):
    assert host.check_output("date +%Z") == "UTC"
    assert host.file("/etc/localtime").linked_to.endswith("/UTC")


def test_base_packages_installed(host, target):
    missing = [name for name in target.data["base_packages"] if not host.package(name).is_installed]
    assert missing == []


def test_apt_proxy_matches_inventory(host, target):
    proxy_conf = host.file("/etc/apt/apt.conf.d/01proxy")
    if target.data["apt_proxy"]:
        assert proxy_conf.contains(f'Acquire::http::Proxy "{target.data["apt_proxy"]}"')
    else:
        assert not proxy_conf.exists


@pytest.mark.proves("S10.2-security-updates")
def test_unattended_security_upgrades_enabled(host):
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1"' in periodic
    assert 'APT::Periodic::Update-Package-Lists "1"' in periodic
    origins = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "security" in origins.lower()
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert_enabled_and_running(host, timer)


# unattended-upgrade's own code (the function behind its "Allowed origins are: ..." line) reading apt's config.
# Not its --dry-run, which goes on to download every upgrade it would install (17 s with some pending, and a change).
ALLOWED_ORIGINS = """
import importlib.machinery, importlib.util
loader = importlib.machinery.SourceFileLoader("unattended_upgrade", "/usr/bin/unattended-upgrade")
tool = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
loader.exec_module(tool)
tool.apt_pkg.init_config()
print(" ".join(tool.get_allowed_origins()))
"""


def test_unattended_upgrades_finds_the_security_origin(host):
    # The real tool, not just its config: it must parse the config and see the security origin.
    origins = host.check_output("python3 -c %s", ALLOWED_ORIGINS)
    assert "security" in origins.lower(), f"unattended-upgrade does not allow the security archive: {origins!r}"


def test_extra_cas_trusted(host, target):
    bundle = host.file("/etc/ssl/certs/ca-certificates.crt").content_string
    for pem in target.data["extra_ca_certs"]:
        body = "".join(pem.strip().splitlines()[1:-1])
        assert body[:64] in bundle.replace("\n", ""), "extra CA missing from the system bundle"


@pytest.mark.proves("S10.2-security-updates")
def test_no_security_update_is_pending(host):
    """Per apt's current lists (the nightly apt-daily run refreshes them)."""
    pending = host.check_output(PendingSecurityUpgrades().command())
    assert pending == "", f"security updates not applied: {pending.split()}"


def test_no_service_runs_a_replaced_library(host):
    listed = host.check_output("needrestart -b -r l")
    assert "NEEDRESTART-VER" in listed, listed  # needrestart itself answered
    stale = [line.split(": ", 1)[1] for line in listed.splitlines() if line.startswith("NEEDRESTART-SVC: ")]
    assert stale == [], f"these still run a library an upgrade replaced (restart them): {stale}"


def test_clock_follows_the_configured_time_sources(host, target):
    assert_enabled_and_running(host, "chrony")
    tracking = {key.strip(): value.strip() for key, value in
                (line.split(" : ", 1) for line in host.check_output("chronyc -n tracking").splitlines())}
    assert tracking["Leap status"] == "Normal", tracking  # "Not synchronised" until a source is chosen
    selected = [line.split()[1] for line in host.check_output("chronyc -n sources").splitlines()
                if line.startswith("^*")]
    assert len(selected) == 1, host.check_output("chronyc -n sources")
    if all(is_address(server) for server in target.data["ntp_servers"]):  # a pool's name resolves to others
        assert selected[0] in target.data["ntp_servers"]
    if target.data["time_sync_sets_clock"]:
        assert host.check_output("timedatectl show -p NTPSynchronized --value") == "yes"


def test_apt_lists_the_security_archive_once(host, target):
    policy = host.run("apt-cache policy")
    assert policy.rc == 0 and "configured multiple times" not in policy.stdout + policy.stderr, policy.stderr
    security = {uri.rstrip("/") for uri in re.findall(r"^ +\d+ (\S+) \S+-security/main ", policy.stdout, re.M)}
    if host.system_info.distribution == "debian":
        assert security == {target.data["debian_security_archive"]}, security
    else:
        assert security, "no -security suite among apt's sources"


def test_unneeded_kernel_modules_are_refused(host, target):
    for module in target.data["refused_kernel_modules"]:
        # What modprobe would do, from its whole configuration (-n: without doing it).
        assert host.check_output("modprobe -n -v %s", module).split() == ["install", "/bin/false"], module


def test_installed_package_files_are_unmodified(host):
    """debsums: every installed package's files (conffiles aside) match dpkg's checksums."""
    out = host.run("debsums -s")
    assert out.rc == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr
