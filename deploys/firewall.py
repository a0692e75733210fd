"""Firewall: a declarative nftables ruleset. Default drop in; the public web
ports from anywhere; SSH only from `admin_ips`. Lockout-safe: the deploy stops
before touching the host if the address its own SSH connection comes from is
not among `admin_ips`."""

import ipaddress

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import Command
from pyinfra.operations import apt, systemd

from deploys.lib.validated import validated_template

admin_networks = [ipaddress.ip_network(entry, strict=False) for entry in host.data.admin_ips]

# Seen from the host, as sshd saw it: "client-address client-port server-address server-port".
ssh_connection = (host.get_fact(Command, "echo $SSH_CONNECTION") or "").split()
if not ssh_connection:
    raise DeployError("firewall: cannot tell this deploy's SSH source address ($SSH_CONNECTION is empty); "
                      "refusing to restrict SSH")
ssh_source = ipaddress.ip_address(ssh_connection[0])
if not any(ssh_source in network for network in admin_networks):
    raise DeployError(f"firewall: this deploy connects from {ssh_source}, which admin_ips "
                      f"({host.data.admin_ips or 'empty'}) does not admit; the rules would lock it out. "
                      "Add it to admin_ips first.")

apt.packages(
    name="Install nftables (and no second firewall manager)",
    packages=["nftables"],
)
apt.packages(
    name="Remove ufw: one firewall manager, this ruleset",
    packages=["ufw"],
    present=False,
)
validated_template(
    "Firewall ruleset",
    src="templates/etc/nftables.conf.j2",
    dest="/etc/nftables.conf",
    check="nft -c -f /etc/nftables.conf",
    activate="systemctl reload-or-restart nftables",
    mode="755",
    admin_v4=[str(net) for net in admin_networks if net.version == 4],
    admin_v6=[str(net) for net in admin_networks if net.version == 6],
    public_tcp_ports=host.data.public_tcp_ports,
)
systemd.service(
    name="Load the ruleset at every boot (nftables.service)",
    service="nftables",
    enabled=True,
    running=True,
)
