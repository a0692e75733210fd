"""Base system: apt (its proxy, where one is set, and on Debian its sources,
security archive included), trusted CAs, base packages, UTC and a synchronised
clock, security updates now and unattended from then on, restarts of what
still runs a replaced library, and kernel modules a VPS has no use for."""

import hashlib
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, files, server, systemd

from deploys.lib.facts import PendingSecurityUpgrades
from deploys.lib.owed import after_change
from deploys.lib.postgres_plan import unsupported_release
from deploys.lib.templates import template
from deploys.lib.units import UNIT_DIR, install_drop_in
from deploys.lib.validated import validated_template

EXTRA_CA_DIR = "/usr/local/share/ca-certificates"  # update-ca-certificates adds what is here


@deploy("Apt proxy")
def configure_apt_proxy():
    if host.data.apt_proxy:
        template(
            name="Send apt through the configured proxy",
            src="templates/etc/apt/apt.conf.d/01proxy.j2",
            dest="/etc/apt/apt.conf.d/01proxy",
            mode="644",
        )
    else:
        files.file(
            name="Let apt connect directly (no proxy configured)",
            path="/etc/apt/apt.conf.d/01proxy",
            present=False,
        )


@deploy("Debian's apt sources")
def debian_sources(codename: str):
    # Owned whole, so the security archive cannot be missing (a debootstrapped
    # image has none) and no archive is listed twice.
    template(
        name="List Debian's archives, the security archive included",
        src="templates/etc/apt/sources.list.d/debian.sources.j2",
        dest="/etc/apt/sources.list.d/debian.sources",
        mode="644",
        codename=codename,
    )
    template(
        name="List nothing in /etc/apt/sources.list (Debian's archives are in debian.sources)",
        src="templates/etc/apt/sources.list.j2",
        dest="/etc/apt/sources.list",
        mode="644",
    )
    after_change("Refresh apt lists for the changed Debian sources", "apt-sources-debian",
                 ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"), ["apt-get update -q"])


@deploy("Extra trusted CAs")
def trust_extra_cas():
    for pem in host.data.extra_ca_certs:
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()[:12]
        files.put(
            name=f"Trust extra CA {fingerprint}",
            src=StringIO(pem),
            dest=f"{EXTRA_CA_DIR}/extra-{fingerprint}.crt",
            mode="644",
        )
    after_change("Rebuild the system CA bundle", "ca-bundle", (EXTRA_CA_DIR,), ["update-ca-certificates"])


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


@deploy("Security updates now, and restarts of what runs a replaced library")
def apply_security_updates():
    apt.packages(
        name="Install needrestart",
        packages=["needrestart"],
    )
    template(
        name="needrestart restarts affected services without asking",
        src="templates/etc/needrestart/conf.d/50-insta-connect-demo.conf.j2",
        dest="/etc/needrestart/conf.d/50-insta-connect-demo.conf",
        mode="644",
    )
    # A new host must not wait hours for the nightly run with known holes. needrestart
    # names every service still running a replaced library; all are restarted, dbus
    # and logind too (its own rules spare them, for desktops; this host has none).
    # Once each: unsuspended, its apt hook restarts sshd after every one of
    # unattended-upgrade's dozen steps, past systemd's start limit (sshd then stays down).
    server.shell(
        name="Apply pending security updates (unattended-upgrade), then restart what runs a replaced library",
        commands=["NEEDRESTART_SUSPEND=1 unattended-upgrade",
                  # PID 1 (needrestart's "systemd-manager") is re-executed, not restarted.
                  "if needrestart -b -r l | grep -qx 'NEEDRESTART-SVC: systemd-manager'; then "
                  "systemctl daemon-reexec; fi",
                  "needrestart -b -r l | sed -n 's/^NEEDRESTART-SVC: //p' | xargs -r systemctl restart"],
        _if=lambda: bool(host.get_fact(PendingSecurityUpgrades)),  # after the lists were refreshed above
    )


@deploy("Time synchronisation")
def synchronise_time():
    apt.packages(
        name="Install chrony",
        packages=["chrony"],
    )
    # Only where the clock is not this host's own (a container): chronyd follows without setting it.
    drop_in = f"{UNIT_DIR}/chrony.service.d/follow-without-setting-the-clock.conf"
    install_drop_in("chrony.service", drop_in, "follows its sources without setting the clock",
                    present=not host.data.time_sync_sets_clock)
    validated_template(
        "chrony time sources",
        src="templates/etc/chrony/chrony.conf.j2",
        dest="/etc/chrony/chrony.conf",
        check="chronyd -p -f {candidate} >/dev/null",
        checker="chronyd -p",
        activate="systemctl restart chrony",
    )
    after_change("Restart chrony for its changed drop-in", "chrony-drop-in", (drop_in,), ["systemctl restart chrony"])
    systemd.service(
        name="Keep chrony enabled and running",
        service="chrony",
        running=True,
        enabled=True,
    )


distribution = host.get_fact(LinuxDistribution)
refusal = unsupported_release(distribution["name"], distribution["major"])
if refusal:  # while pyinfra prepares: before any operation touches the host
    raise DeployError(f"{host.name}: {refusal}")

configure_apt_proxy()
trust_extra_cas()  # before apt's first fetch: a mirror may be reached through the egress's CA
if distribution["name"] == "Debian":
    debian_sources(distribution["release_meta"]["VERSION_CODENAME"])

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

synchronise_time()
enable_unattended_upgrades()
apply_security_updates()
template(
    name="Refuse the kernel modules this host never needs (modprobe reads the refusals)",
    src="templates/etc/modprobe.d/insta-connect-demo.conf.j2",
    dest="/etc/modprobe.d/insta-connect-demo.conf",
    mode="644",
    create_remote_dir=True,
    modules=host.data.refused_kernel_modules,
)
