"""deploys/ssh.py, as the host shows it. Read-only: safe against production."""

import pytest

from tests.host.conftest import (assert_exposure_at_most, assert_live_is_the_rendered_template, assert_owner_and_mode,
                                  assert_settings, main_process_status, process_status)


@pytest.fixture(scope="module")
def sshd(host) -> dict[str, str]:
    """sshd's effective settings (`sshd -T`), keys lower-case."""
    out = host.check_output("sshd -T")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@pytest.mark.proves("S10.2-ssh-keys-only")
def test_key_only_logins(sshd):
    assert_settings(sshd, {
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "pubkeyauthentication": "yes",
        "permitemptypasswords": "no",
        "permitrootlogin": "without-password",  # sshd -T's name for prohibit-password
    }, "sshd -T")


@pytest.mark.parametrize("setting, data_key", [
    ("kexalgorithms", "ssh_kex_algorithms"),
    ("ciphers", "ssh_ciphers"),
    ("macs", "ssh_macs"),
    ("hostkeyalgorithms", "ssh_host_key_algorithms"),
])
def test_only_modern_algorithms(sshd, target, setting, data_key):
    offered = sshd[setting].split(",")
    assert offered and set(offered) <= set(target.data[data_key]), offered


def test_only_root_and_the_team_may_log_in(host, target):
    allowed = host.check_output("sshd -T | awk '$1 == \"allowgroups\" {print $2}'").split()
    assert sorted(allowed) == sorted(["root", target.data["team_group"]])


def test_sessions_and_keepalives(sshd, target):
    assert_settings(sshd, {
        "maxsessions": str(target.data["ssh_max_sessions"]),
        "tcpkeepalive": "no",  # the encrypted ClientAlive messages find dead peers
        "clientaliveinterval": "300",
        "clientalivecountmax": "2",
    }, "sshd -T")


def test_live_drop_in_is_the_deployed_one(host):
    live = "/etc/ssh/sshd_config.d/10-hardening.conf"
    assert_owner_and_mode(host.file(live), "root", "root", 0o644)
    assert_live_is_the_rendered_template(host, live, "the sshd hardening drop-in")
    check = host.run("sshd -t")
    assert check.rc == 0, f"sshd -t refuses the config on disk: {check.stderr}"
    assert host.service("ssh").is_running, "ssh.service is not running"


def test_team_members_have_their_keys_and_only_them(host, target):
    group = target.data["team_group"]
    for person in target.data["team"]:
        user = host.user(person["name"])
        assert user.exists and group in user.groups, person["name"]
        home = host.file(user.home)
        assert home.mode == 0o750, f"{person['name']}'s home {user.home} is mode {home.mode:04o}, not 0750"
        keys = host.file(f"{user.home}/.ssh/authorized_keys").content_string.splitlines()
        assert sorted(keys) == sorted(person["keys"]), person["name"]
    managed = {name for name in host.check_output(f"getent group {group} | cut -d: -f4").split(",") if name}
    assert managed == {person["name"] for person in target.data["team"]}  # nobody offboarded lingers


def test_sudo_only_for_those_who_have_it(host, target):
    sudoers = host.file("/etc/sudoers.d/team")
    assert_owner_and_mode(sudoers, "root", "root", 0o440)
    granted = {line.split()[0] for line in sudoers.content_string.splitlines() if line and not line.startswith("#")}
    assert granted == {person["name"] for person in target.data["team"] if person.get("sudo")}


def test_team_keys_in_root_only_by_choice(host, target):
    root_keys = host.file("/root/.ssh/authorized_keys").content_string
    team_keys = [key for person in target.data["team"] for key in person["keys"]]
    for key in team_keys:
        assert (key in root_keys) == bool(target.data["team_keys_to_root"]), key[:40]
    assert ("TEAM KEYS managed by pyinfra" in root_keys) == bool(target.data["team_keys_to_root"] and team_keys)


def test_sshd_sandbox_at_its_documented_exposure(host, target):
    assert_exposure_at_most(host, "ssh.service", target.data["ssh_exposure_max"], "ssh_exposure_max")
    assert main_process_status(host, "ssh.service")["Seccomp"] == "2"  # sshd runs with its filter


def test_login_sessions_keep_full_privileges(host):
    """This check's own session, which inherits sshd's sandbox: every capability
    PID 1 has, free to gain privileges (sudo), in the host's mount namespace,
    and a logind session (pam_systemd)."""
    session, init = process_status(host, "self"), process_status(host, "1")
    assert session["CapBnd"] == init["CapBnd"]
    assert session["NoNewPrivs"] == "0"
    assert host.check_output("readlink /proc/self/ns/mnt") == host.check_output("readlink /proc/1/ns/mnt"), \
        "login sessions get a mount namespace of their own (sshd's sandbox leaks into them)"
    assert "/session-" in host.check_output("cat /proc/self/cgroup")
