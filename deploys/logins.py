"""Logins and local accounts: PAM checks the quality of any password set,
each session gets its own temporary directory, new homes are private, idle
shells log out, login sessions dump no core, and the console and network
login banners say that access is for authorized users only. Nobody logs in with a
password here (deploys/ssh.py): these hold for the day someone sets one, and
for what runs in a session."""

from pyinfra import host
from pyinfra.operations import apt, files

from deploys.lib.templates import template

# Both enable themselves in /etc/pam.d/common-* (pam-auth-update) on install.
apt.packages(
    name="Install PAM's password quality check and per-user temporary directories",
    packages=["libpam-pwquality", "libpam-tmpdir"],
)
for key, value in (("UMASK", host.data.login_umask), ("PASS_MIN_DAYS", host.data.password_min_days)):
    files.line(
        name=f"login.defs: {key} {value}",
        path="/etc/login.defs",
        line=rf"^{key}\s.*$",
        replace=f"{key} {value}",
    )
template(
    name="No core dumps from login sessions",
    src="templates/etc/security/limits.d/insta-connect-demo.conf.j2",
    dest="/etc/security/limits.d/insta-connect-demo.conf",
    mode="644",
)
template(
    name=f"Idle interactive shells log out after {host.data.shell_idle_timeout} s",
    src="templates/etc/profile.d/insta-connect-demo-idle-logout.sh.j2",
    dest="/etc/profile.d/insta-connect-demo-idle-logout.sh",
    mode="644",
)
for banner in ("/etc/issue", "/etc/issue.net"):  # the console's and the network's pre-login banners
    template(
        name=f"Legal banner in {banner}: authorized use only, activity monitored",
        src="templates/etc/issue.j2",  # /etc/issue.net says the same
        dest=banner,
        mode="644",
    )
