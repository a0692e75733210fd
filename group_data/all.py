"""Every tunable of the host, with its default. Inventories override per host.

Production values are the infrastructure document's
(../shared/reference/infrastructure-documentation.md); the sandbox's generated
inventory overrides the network-specific ones.
"""

# --- identity -------------------------------------------------------------
domain = "insta.tiblings.com"  # public name nginx serves and certbot certifies
app_name = "insta-connect-demo"  # systemd unit, nginx site and Doppler project name

# --- base system (deploys/base.py) ----------------------------------------
timezone = "Etc/UTC"  # UTC, as the document's schedules are (Etc/UTC is the canonical zone name)
apt_proxy = None  # http://host:port for apt, or None to go direct (production)
https_proxy = None  # proxy for pip on the host, or None to go direct (production)
extra_ca_certs = []  # extra PEM CA certificates to trust (the sandbox's egress CA)
base_packages = [  # tools every host gets
    "ca-certificates", "curl", "gnupg", "tzdata", "rsync", "less", "logrotate",
    "unattended-upgrades", "apt-listchanges",
]
unattended_upgrades_reboot = False  # reboot automatically when an update needs it
unattended_upgrades_reboot_time = "04:00"  # when, if it does (UTC; after backups and token refresh)

# --- access (deploys/ssh.py, deploys/firewall.py) ---------------------------
admin_ips = []  # addresses allowed to SSH in and read /metrics and /alerts; set per inventory
