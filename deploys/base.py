"""Base system: apt (and its proxy, where one is set), trusted CAs, base
packages, UTC, and unattended security upgrades."""

import hashlib
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd

from deploys.lib.templates import template


@deploy("Apt proxy")
def configure_apt_proxy():
    template(
        name="Send apt through the configured proxy",
        src="templates/etc/apt/apt.conf.d/01proxy.j2",
        dest="/etc/apt/apt.conf.d/01proxy",
        mode="644",
        _if=lambda: bool(host.data.apt_proxy),
    )
    files.file(
        name="Let apt connect directly (no proxy configured)",
        path="/etc/apt/apt.conf.d/01proxy",
        present=False,
        _if=lambda: not host.data.apt_proxy,
    )


@deploy("Extra trusted CAs")
def trust_extra_cas():
    changes = []
    for pem in host.data.extra_ca_certs:
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()[:12]
        changes.append(files.put(
            name=f"Trust extra CA {fingerprint}",
            src=StringIO(pem),
            dest=f"/usr/local/share/ca-certificates/extra-{fingerprint}.crt",
            mode="644",
        ))
    server.shell(
        name="Rebuild the system CA bundle",
        commands=["update-ca-certificates"],
        _if=lambda: any(op.did_change() for op in changes),
    )


@deploy("Unattended security upgrades")
def enable_unattended_upgrades():
    for conf in ("20auto-upgrades", "52unattended-upgrades-local"):
        template(
            name=f"Configure unattended-upgrades: {conf}",
            src=f"templates/etc/apt/apt.conf.d/{conf}.j2",
            dest=f"/etc/apt/apt.conf.d/{conf}",
            mode="644",
        )
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        systemd.service(
            name=f"Keep {timer} enabled and running",
            service=timer,
            running=True,
            enabled=True,
        )


configure_apt_proxy()
trust_extra_cas()

apt.packages(
    name="Install the base packages",
    packages=host.data.base_packages,
    update=True,
    cache_time=24 * 3600,
)

server.timezone(
    name=f"Set the timezone to {host.data.timezone}",
    timezone=host.data.timezone,
)

enable_unattended_upgrades()
