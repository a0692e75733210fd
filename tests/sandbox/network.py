"""The sandbox's private network: a bridge on this machine, the host's namespace
and an 'outside' namespace on it, all in a /24 chosen per instance.

No NAT, routes or sysctls are touched on the machine: the host reaches nothing
but the bridge's own addresses (the proxy, Pebble and the fake Meta API).
"""

import ipaddress
import subprocess
from dataclasses import dataclass

SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")


@dataclass(frozen=True)
class Network:
    name: str
    index: int

    @property
    def prefix(self) -> str:
        return str(list(SUBNET_POOL.subnets(new_prefix=24))[self.index].network_address).rsplit(".", 1)[0]

    @property
    def subnet(self) -> str:
        return f"{self.prefix}.0/24"

    @property
    def gateway(self) -> str:
        """The machine's side of the bridge: proxy, Pebble, fake Meta, admin SSH."""
        return f"{self.prefix}.1"

    @property
    def host_address(self) -> str:
        return f"{self.prefix}.2"

    @property
    def outside_address(self) -> str:
        """An internet user's vantage point, deliberately not in admin_ips."""
        return f"{self.prefix}.3"

    @property
    def host_netns(self) -> str:
        return self.name

    @property
    def outside_netns(self) -> str:
        return f"{self.name}-out"

    @property
    def bridge(self) -> str:
        return f"sb-{self.name}"

    def _links(self):
        return [(self.host_netns, f"sh-{self.name}", self.host_address),
                (self.outside_netns, f"so-{self.name}", self.outside_address)]

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for netns, machine_end, address in self._links():
            ip("netns", "add", netns)
            ip("link", "add", machine_end, "type", "veth", "peer", "name", f"{machine_end}p")
            ip("link", "set", f"{machine_end}p", "netns", netns)
            ip("-n", netns, "link", "set", f"{machine_end}p", "name", "eth0")
            ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", netns, "link", "set", "eth0", "up")
            ip("-n", netns, "link", "set", "lo", "up")
            ip("link", "set", machine_end, "master", self.bridge)
            ip("link", "set", machine_end, "up")

    def destroy(self) -> None:
        """Remove whatever part exists; safe on a half-made network."""
        for netns, machine_end, _ in self._links():
            ip("link", "del", machine_end, check=False)
            ip("netns", "del", netns, check=False)
        ip("link", "del", self.bridge, check=False)

    def exists(self) -> bool:
        return self.bridge in links() or any(n in netns_list() for n in (self.host_netns, self.outside_netns))


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, stdout=subprocess.DEVNULL,
                   stderr=None if check else subprocess.DEVNULL)


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def netns_list() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def free_index() -> int:
    """The first /24 of the pool that no interface on this machine uses yet."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    for index, subnet in enumerate(SUBNET_POOL.subnets(new_prefix=24)):
        if index and str(subnet.network_address).rsplit(".", 1)[0] + "." not in used:
            return index
    raise SystemExit("sandbox: no free subnet left in " + str(SUBNET_POOL))
