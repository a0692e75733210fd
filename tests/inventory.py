"""Read a pyinfra inventory the way the deploys see it: group_data/all.py
defaults overlaid with each host's own data."""

import runpy
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class InventoryHost:
    name: str
    data: dict

    @property
    def address(self) -> str:
        return self.data.get("ssh_hostname", self.name)

    def testinfra_spec(self) -> tuple[str, dict]:
        """(hostspec, kwargs) for testinfra.get_host over ssh."""
        extra = []
        if self.data.get("ssh_known_hosts_file"):
            extra += ["-o", f"UserKnownHostsFile={self.data['ssh_known_hosts_file']}",
                      "-o", "StrictHostKeyChecking=yes"]
        spec = f"ssh://{self.data.get('ssh_user', 'root')}@{self.address}"
        if self.data.get("ssh_port"):
            spec += f":{self.data['ssh_port']}"
        # Without a ControlPath ssh ignores ControlMaster: every command would open a new connection
        # (key exchange and a PAM session, about 0.3 s) instead of a channel on one kept open (10 ms).
        # %C is ssh's hash of user, host and port; testinfra %-formats the command, hence %%.
        return spec, {"ssh_identity_file": self.data.get("ssh_key"),
                      "ssh_extra_args": " ".join(extra + ["-o", "BatchMode=yes"]),
                      "controlpath": f"{tempfile.gettempdir()}/testinfra-%%C",
                      "controlpersist": 10}


def group_defaults() -> dict:
    return {key: value for key, value in runpy.run_path(str(REPO / "group_data/all.py")).items()
            if not key.startswith("_")}


def load(inventory_file: str | Path) -> list[InventoryHost]:
    inventory = runpy.run_path(str(inventory_file))
    defaults = group_defaults()
    hosts = []
    for value in inventory.values():
        if isinstance(value, list):
            for entry in value:
                name, data = entry if isinstance(entry, tuple) else (entry, {})
                hosts.append(InventoryHost(name, {**defaults, **data}))
    return hosts
