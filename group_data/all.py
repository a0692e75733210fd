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
team = [  # people with SSH access: {"name": login, "keys": [public keys], "sudo": bool}; remove one to offboard
]
team_group = "team"  # group that marks the users this deploy manages (offboarding removes members not in `team`)
team_keys_to_root = False  # also put the team's keys in root's authorized_keys (the document's section 11.1 way)
ssh_kex_algorithms = [  # modern key exchange only; whichever of these the host's OpenSSH knows are used
    "mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com", "sntrup761x25519-sha512",
    "curve25519-sha256", "curve25519-sha256@libssh.org",
    "diffie-hellman-group18-sha512", "diffie-hellman-group16-sha512",
]
ssh_ciphers = [  # AEAD and CTR ciphers only
    "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
    "aes256-ctr", "aes192-ctr", "aes128-ctr",
]
ssh_macs = [  # encrypt-then-MAC with SHA-2 only
    "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com",
]
ssh_host_key_algorithms = [  # Ed25519 and RSA with SHA-2 (no NIST curves, no SHA-1)
    "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", "rsa-sha2-512", "rsa-sha2-256",
]
public_tcp_ports = [80, 443]  # open to anyone: HTTP (ACME and the redirect) and HTTPS
firewall_logging = "low"  # ufw's log level: off, low (blocked packets, rate-limited), medium, high or full

# --- nginx (deploys/nginx.py) ---------------------------------------------------
app_upstream = "127.0.0.1:3000"  # where the app listens; nginx is its only client
client_max_body_size = "2m"  # largest request body nginx accepts
hsts_max_age = 63072000  # seconds browsers keep to HTTPS (two years, Mozilla's recommendation)
content_security_policy = (  # server-rendered pages: own scripts/styles only, Instagram images, no framing
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
auth_rate_limit = "10r/m"  # per client address on /login, /register and /oauth (strict)
auth_rate_burst = 5  # extra requests allowed at once there before 429
webhook_rate_limit = "20r/s"  # per sender address on /webhook (Meta sends in bursts)
webhook_rate_burst = 200  # extra webhook requests absorbed at once before 429

# --- TLS (deploys/certbot.py) ---------------------------------------------------
acme_directory = "https://acme-v02.api.letsencrypt.org/directory"  # Let's Encrypt production; staging: https://acme-staging-v02.api.letsencrypt.org/directory
acme_ca_bundle = None  # PEM CA(s) certbot trusts for the ACME directory (REQUESTS_CA_BUNDLE), or None for the system store
acme_email = None  # contact address for the ACME account (expiry notices), or None for no address
acme_webroot = "/var/www/letsencrypt"  # where certbot puts http-01 challenge files; nginx serves them on port 80
