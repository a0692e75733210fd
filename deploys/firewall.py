"""Firewall: ufw (Debian's package). Default deny incoming; the public web
ports from anywhere; SSH only from `admin_ips`; IPv4 and IPv6 alike; and the
kernel's network settings of a host that routes nothing (`network_sysctls`).

Lockout-safe: the deploy stops before touching the host if the address its
own SSH connection comes from is not among `admin_ips`, or it reaches sshd
on another port than the one the rules open; and the SSH rules go
in before the default deny and `ufw enable`. Declarative: a ufw rule that is
not wanted (a stray, or an address since removed from `admin_ips`) is deleted.
The ufw operation (deploys/lib/ufw.py) runs only the `ufw` commands its fact
shows missing, so an unchanged host reports no change."""

import ipaddress

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server, systemd

from deploys.lib import ufw
from deploys.lib.ufw import UfwState

SSH_PORT = 22
POLICIES = {"incoming": "deny", "outgoing": "allow", "routed": "deny"}

admin_networks = [ipaddress.ip_network(entry, strict=False) for entry in host.data.admin_ips]

# Seen from the host, as sshd saw it: "client-address client-port server-address server-port".
ssh_connection = (host.get_fact(Command, "echo $SSH_CONNECTION") or "").split()
if not ssh_connection:
    raise DeployError("firewall: cannot tell this deploy's SSH source address ($SSH_CONNECTION is empty); "
                      "refusing to restrict SSH")
ssh_source, ssh_port = ipaddress.ip_address(ssh_connection[0]), int(ssh_connection[3])
if ssh_port != SSH_PORT:
    raise DeployError(f"firewall: this deploy reaches sshd on port {ssh_port}, but the rules admit SSH on "
                      f"{SSH_PORT} only (the document's port); they would lock it out")
if not any(ssh_source in network for network in admin_networks):
    raise DeployError(f"firewall: this deploy connects from {ssh_source}, which admin_ips "
                      f"({host.data.admin_ips or 'empty'}) does not admit; the rules would lock it out. "
                      "Add it to admin_ips first.")

installed = host.get_fact(UfwState)  # None until ufw is installed
if installed and not installed["ipv6"]:
    raise DeployError("firewall: /etc/default/ufw does not say IPV6=yes, so ufw leaves IPv6 unfiltered; "
                      "set IPV6=yes there and deploy again")


def ufw_source(network) -> str:
    """An address or network as ufw prints it: a single host without its /32 or /128."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


# In `ufw show added` spelling, so the fact and the wanted set compare as text.
ssh_rules = list(dict.fromkeys(f"allow from {ufw_source(network)} to any port {SSH_PORT} proto tcp"
                               for network in admin_networks))
web_ports = [f"{port}/tcp" for port in host.data.public_tcp_ports]
web_rules = [f"allow {port}" for port in web_ports]

apt.packages(
    name="Install ufw",
    packages=["ufw"],
)
# In ufw's own file: ufw applies it at every start, after /etc/sysctl.d (whose
# log_martians it would undo), and also where systemd-sysctl cannot run (a container).
for key, value in host.data.network_sysctls.items():
    ufw_key = key.replace(".", "/")  # as ufw's file spells its keys
    files.line(
        name=f"ufw applies {key} = {value} at each start",
        path="/etc/ufw/sysctl.conf",
        line=rf"^{ufw_key}=.*$",
        replace=f"{ufw_key}={value}",
    )
    server.sysctl(
        name=f"Set {key} = {value} now",
        key=key,
        value=value,
    )
ufw.firewall(
    name=(f"ufw: SSH ({SSH_PORT}/tcp) from each of admin_ips, the public web ports ({', '.join(web_ports)}) "
          f"from anywhere, nothing else; deny incoming and routed; logging {host.data.firewall_logging}; enabled"),
    rules=ssh_rules + web_rules,
    policies=POLICIES,
    logging=host.data.firewall_logging,
)
systemd.service(
    name="Load ufw's rules at every boot (ufw.service)",
    service="ufw.service",
    running=True,
    enabled=True,
)
