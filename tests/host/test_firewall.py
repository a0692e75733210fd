"""deploys/firewall.py, as the host shows it. Read-only: safe against production."""

import ipaddress
import json

import pytest


@pytest.fixture(scope="module")
def input_chain(host) -> dict:
    ruleset = json.loads(host.check_output("nft -j list table inet edge_firewall"))["nftables"]
    chain = next(item["chain"] for item in ruleset if "chain" in item and item["chain"]["name"] == "input")
    rules = [item["rule"] for item in ruleset if "rule" in item and item["rule"]["chain"] == "input"]
    return {"policy": chain["policy"], "rules": rules, "text": host.check_output("nft list chain inet edge_firewall input")}


def test_ruleset_loaded_and_loaded_at_boot(host):
    assert host.service("nftables").is_enabled
    assert host.service("nftables").is_running
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0
    assert not host.package("ufw").is_installed


def test_default_drop_in(input_chain):
    assert input_chain["policy"] == "drop"


def test_ssh_only_from_admin_ips(input_chain, target):
    ssh_rules = [line.strip() for line in input_chain["text"].splitlines() if "dport 22 " in line + " "]
    assert ssh_rules, "no SSH rule"
    admitted = set()
    for rule in ssh_rules:
        assert "saddr" in rule, f"SSH open to everyone: {rule}"
        admitted |= {ipaddress.ip_network(token.strip("{},"), strict=False)
                     for token in rule.split("saddr", 1)[1].split("tcp", 1)[0].split() if token.strip("{},")}
    assert admitted == {ipaddress.ip_network(entry, strict=False) for entry in target.data["admin_ips"]}


def test_public_ports_open_to_all(input_chain, target):
    ports = ", ".join(str(port) for port in target.data["public_tcp_ports"])
    assert any(f"tcp dport {{ {ports} }} accept" in line and "saddr" not in line
               for line in input_chain["text"].splitlines()), input_chain["text"]


@pytest.mark.parametrize("port", [3000, 5432, 6379])
def test_private_ports_not_opened(input_chain, port):
    assert f"{port}" not in input_chain["text"]
