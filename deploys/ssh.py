"""SSH: a hardened sshd drop-in that goes live only once `sshd -t` accepts it,
the little of a systemd sandbox that login sessions can live with, and team
access from group data `team` (onboarding and offboarding)."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import Command, Users
from pyinfra.operations import apt, files, server

from deploys.lib.units import UNIT_DIR, install_drop_in, restart_for_drop_ins
from deploys.lib.validated import checked_in_copy, validated_template

SANDBOXING = f"{UNIT_DIR}/ssh.service.d/sandboxing.conf"


def supported(query: str, wanted: list[str]) -> list[str]:
    """The wanted algorithms this host's OpenSSH knows, in the wanted order
    (an unknown name would make sshd refuse the whole file)."""
    known = set((host.get_fact(Command, f"ssh -Q {query}") or "").split())
    return [name for name in wanted if name in known]


@deploy("SSH daemon hardening")
def harden_sshd():
    apt.packages(
        name="Install the OpenSSH server",
        packages=["openssh-server"],
    )
    validated_template(
        "sshd hardening drop-in",
        src="templates/etc/ssh/sshd_config.d/10-hardening.conf.j2",
        dest="/etc/ssh/sshd_config.d/10-hardening.conf",
        # sshd reads it through sshd_config's `Include /etc/ssh/sshd_config.d/*.conf`.
        check=checked_in_copy("/etc/ssh", "sshd_config", "sshd_config.d/10-hardening.conf",
                              'sshd -t -f "$copy/sshd_config"'),
        checker="sshd -t",
        activate="systemctl reload ssh",
        kex=supported("kex", host.data.ssh_kex_algorithms),
        ciphers=supported("cipher", host.data.ssh_ciphers),
        macs=supported("mac", host.data.ssh_macs),
        host_key_algorithms=supported("key-sig", host.data.ssh_host_key_algorithms),
    )
    # Sessions inherit sshd's sandbox: see the template for what they keep.
    install_drop_in("ssh.service", SANDBOXING, "its sandbox")
    # The restart leaves open sessions (this deploy's too) alone (KillMode=process);
    # a new connection on loopback gets as far as the host keys from the new sshd.
    restart_for_drop_ins(
        "ssh.service", (SANDBOXING,),
        check="systemctl is-active --quiet ssh && port=$(sshd -T | awk '$1 == \"port\" {print $2; exit}') && "
              "ssh-keyscan -T 5 -p \"$port\" 127.0.0.1 2>/dev/null | grep -q ' ssh-ed25519 '",
        checks="active, and a new connection gets through key exchange",
    )


@deploy("Team access")
def manage_team():
    team = host.data.team
    group = host.data.team_group
    server.group(
        name=f"Keep the {group} group (marks the people this deploy manages)",
        group=group,
    )
    users = host.get_fact(Users)
    for person in team:
        if person["name"] in users and group not in users[person["name"]]["groups"]:
            # Else a later offboarding would delete an account (a service user, say) it never made.
            raise DeployError(f"team: {person['name']!r} is an existing account outside the {group} group, "
                              "which this deploy does not manage; give the person another login")
    for person in team:
        server.user(
            name=f"Give {person['name']} a login with their keys",
            user=person["name"],
            shell="/bin/bash",
            groups=[group],
            create_home=True,
            public_keys=person["keys"],
            delete_keys=True,
        )
        files.directory(
            name=f"Keep {person['name']}'s home private (0750)",
            path=f"/home/{person['name']}",
            mode="750",
        )
    wanted = {person["name"] for person in team}
    for departed in sorted(name for name, user in users.items()
                           if group in user["groups"] and name not in wanted):
        server.shell(
            name=f"Offboard {departed}: end their sessions, remove their user, home and keys",
            commands=[f"pkill --signal KILL --uid {departed} || true", f"userdel --remove {departed}"],
        )
    validated_template(
        "Team sudo rights",
        src="templates/etc/sudoers.d/team.j2",
        dest="/etc/sudoers.d/team",
        check="visudo -c -q -f {candidate}",
        checker="visudo -c",
        # No activate: sudo reads the file at every use.
        mode="440",
        sudoers=[person["name"] for person in team if person.get("sudo")],
    )
    files.block(
        name="Team keys in root's authorized_keys" if host.data.team_keys_to_root
        else "No team keys in root's authorized_keys",
        path="/root/.ssh/authorized_keys",
        content=[key for person in team for key in person["keys"]],
        present=bool(host.data.team_keys_to_root and team),
        marker="# {mark} TEAM KEYS managed by pyinfra",  # no regex metacharacters: pyinfra matches it with awk
    )


harden_sshd()
manage_team()
