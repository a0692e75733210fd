"""deploys/logins.py, as the host shows it, much of it in this check's own
login session (PAM opens one for it, as for anyone's). Read-only: safe
against production."""

import pytest

from tests.host.conftest import assert_settings


def active_lines(host, path: str) -> list[list[str]]:
    return [line.split() for line in host.file(path).content_string.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def login_defs(host) -> dict[str, str]:
    return {words[0]: words[1] for words in active_lines(host, "/etc/login.defs") if len(words) > 1}


def test_passwords_are_checked_for_quality_before_they_are_set(host):
    modules = [next(word for word in words if word.endswith(".so"))  # the control may be "[a=b c=d]"
               for words in active_lines(host, "/etc/pam.d/common-password") if words[0] == "password"]
    assert modules[0] == "pam_pwquality.so", modules  # first: a weak password never reaches pam_unix
    assert "pam_unix.so" in modules


def test_each_session_has_its_own_temporary_directory(host):
    uid = host.check_output("id -u")
    assert host.check_output("echo $TMPDIR") == f"/tmp/user/{uid}"
    tmpdir = host.file(f"/tmp/user/{uid}")
    assert tmpdir.is_directory, f"/tmp/user/{uid} is not a directory"
    assert (tmpdir.uid, tmpdir.mode) == (int(uid), 0o700), \
        f"/tmp/user/{uid} is uid {tmpdir.uid} mode {tmpdir.mode:04o}, not uid {uid} mode 0700"


def test_login_sessions_dump_no_core(host):
    assert host.check_output("ulimit -H -c") == "0"  # this session's: root's line, not only `*`


def test_idle_login_shells_log_out(host, target):
    # What a login shell gets from /etc/profile: the timeout, read-only.
    assert host.check_output("bash -l -c 'readonly -p' | grep -w TMOUT") == \
        f'declare -rx TMOUT="{target.data["shell_idle_timeout"]}"'


def test_new_accounts_defaults(login_defs, target):
    assert_settings(login_defs, {"UMASK": target.data["login_umask"],
                                 "PASS_MIN_DAYS": str(target.data["password_min_days"])}, "/etc/login.defs")
    assert login_defs.get("PASS_MAX_DAYS", "99999") == "99999"  # see group data: expiry would lock key logins


@pytest.mark.parametrize("banner", ["/etc/issue", "/etc/issue.net"])
def test_login_banners_say_access_is_for_authorized_users_only(host, banner):
    text = host.file(banner).content_string.lower()
    assert "authorized access only" in text and "monitored" in text and "prohibited" in text
