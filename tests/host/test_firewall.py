"""deploys/firewall.py, as ufw on the host shows it (`ufw status verbose`).
Read-only: safe against production."""

import ipaddress
import re

import pytest


@pytest.fixture(scope="module")
def status(host) -> dict:
    """`ufw status verbose`: its header fields by name, and its rules as (to, action, from)."""
    header, _, table = host.check_output("ufw status verbose").partition("\n\n")
    rows = table.splitlines()[2:]  # below "To  Action  From" and its underline
    return {"fields": dict(line.split(": ", 1) for line in header.splitlines()),
            "rules": [tuple(re.split(r"\s{2,}", row.strip())) for row in rows]}


def test_active_and_loaded_at_boot(host, status):
    assert host.package("ufw").is_installed, "ufw is not installed"
    assert host.service("ufw").is_enabled, "ufw.service is not enabled: the rules would not be loaded at boot"
    assert status["fields"]["Status"] == "active", f"ufw is {status['fields']['Status']}, not active"


def test_default_policies(host, status):
    # ufw shows "disabled (routed)" while the kernel forwards nothing; the policy is in its config.
    assert re.fullmatch(r"deny \(incoming\), allow \(outgoing\), (deny|disabled) \(routed\)",
                        status["fields"]["Default"]), status["fields"]["Default"]
    assert host.file("/etc/default/ufw").contains('^DEFAULT_FORWARD_POLICY="DROP"$')


def test_ipv6_filtered_too(host):
    assert host.file("/etc/default/ufw").contains("^IPV6=yes$")


def test_logging(status, target):
    level = target.data["firewall_logging"]
    assert status["fields"]["Logging"] == ("off" if level == "off" else f"on ({level})")


@pytest.mark.proves("S10.1-ssh-admin-ips")
def test_ssh_only_from_admin_ips(status, target):
    ssh_sources = [source for to, action, source in status["rules"] if to in ("22/tcp", "22/tcp (v6)")]
    assert not [source for source in ssh_sources if source.startswith("Anywhere")], "SSH open to everyone"
    assert {ipaddress.ip_network(source) for source in ssh_sources} == \
        {ipaddress.ip_network(entry, strict=False) for entry in target.data["admin_ips"]}


@pytest.mark.proves("S10.1-http-open", "S10.1-https-open")
def test_public_ports_open_to_all(status, target):
    for port in target.data["public_tcp_ports"]:
        assert (f"{port}/tcp", "ALLOW IN", "Anywhere") in status["rules"]
        assert (f"{port}/tcp (v6)", "ALLOW IN", "Anywhere (v6)") in status["rules"]


def test_no_other_rules(status, target):
    public = {f"{port}/tcp{v6}" for port in target.data["public_tcp_ports"] for v6 in ("", " (v6)")}
    others = [rule for rule in status["rules"] if rule[0] not in public | {"22/tcp", "22/tcp (v6)"}]
    assert others == []
    assert {action for _, action, _ in status["rules"]} == {"ALLOW IN"}


@pytest.mark.parametrize("port", [3000, pytest.param(5432, marks=pytest.mark.proves("S10.1-postgres-closed")), 6379])
def test_private_ports_not_opened(status, port):
    assert not [to for to, _, _ in status["rules"] if to.split("/")[0] == str(port)]


def test_only_ssh_and_the_web_listen_beyond_loopback(host):
    """Behind the firewall too, nothing else is even offered: every TCP listener
    on a non-loopback address is sshd (22) or nginx (80, 443)."""
    exposed = set()
    for line in host.check_output("ss -Htln").splitlines():
        address, _, port = line.split()[3].rpartition(":")
        address = address.strip("[]").split("%")[0]
        if address == "*" or not ipaddress.ip_address(address).is_loopback:
            exposed.add(int(port))
    assert exposed == {22, 80, 443}


def test_network_sysctls_live_and_applied_by_ufw_at_each_start(host, target):
    for key, value in target.data["network_sysctls"].items():
        assert host.check_output("sysctl -n %s", key) == str(value), key
        assert host.file("/etc/ufw/sysctl.conf").contains(f"^{key.replace('.', '/')}={value}$"), key
