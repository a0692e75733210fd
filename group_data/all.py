"""Every tunable of the host, with its default. Inventories override per host.

Production values are the infrastructure document's
(docs/reference/infrastructure-documentation.md); the sandbox's generated
inventory overrides the network-specific ones.
"""

# --- identity -------------------------------------------------------------
domain = "insta.tiblings.com"  # public name nginx serves and certbot certifies

# --- base system (deploys/base.py) ----------------------------------------
timezone = "Etc/UTC"  # UTC, as the document's schedules are (Etc/UTC is the canonical zone name)
apt_proxy = None  # http://host:port for apt, or None to go direct (production)
https_proxy = None  # proxy for pip on the host, or None to go direct (production)
extra_ca_certs = []  # extra PEM CA certificates to trust (the sandbox's egress CA)
debian_mirror = "http://deb.debian.org/debian"  # Debian hosts' archive (release and -updates); Ubuntu's sources are left alone
debian_security_archive = "http://security.debian.org/debian-security"  # Debian's security archive, by its own name
base_packages = [  # tools every host gets
    "ca-certificates", "curl", "gnupg", "tzdata", "rsync", "less", "logrotate",
    "unattended-upgrades", "apt-listchanges", "debsums", "kmod",
]
ntp_servers = ["2.debian.pool.ntp.org"]  # NTP pools or servers chrony keeps the clock to
time_sync_sets_clock = True  # chrony steers the clock; False only where it is not the host's own (a container)
refused_kernel_modules = [  # never loaded: removable storage, and network protocols with a history of holes
    "usb-storage", "firewire-core", "dccp", "sctp", "rds", "tipc",
]
unattended_upgrades_reboot = False  # reboot automatically when an update needs it
unattended_upgrades_reboot_time = "04:00"  # when, if it does (UTC; after backups and token refresh)

# --- logins (deploys/logins.py) -------------------------------------------------
login_umask = "027"  # login.defs UMASK: new homes 0750 (sessions keep 022: no pam_umask in Debian's PAM stack)
password_min_days = 1  # login.defs PASS_MIN_DAYS; no PASS_MAX_DAYS: an expired password locks out key logins too
shell_idle_timeout = 900  # seconds an interactive login shell may sit idle at its prompt (TMOUT)

# --- access (deploys/ssh.py, deploys/firewall.py) ---------------------------
admin_ips = []  # addresses allowed to SSH in and read /metrics and /alerts; set per inventory
team = [  # people with SSH access: {"name": login, "keys": [public keys], "sudo": bool}; remove one to offboard
]
team_group = "team"  # group that marks the users this deploy manages (offboarding removes members not in `team`)
team_keys_to_root = False  # also put the team's keys in root's authorized_keys (the document's section 11.1 way)
ssh_max_sessions = 4  # sessions (shells, commands, SFTP) one SSH connection may carry at once; pyinfra's SFTP stays open and its finished commands close lazily: 2 fails deploys
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
network_sysctls = {  # kernel network settings for a host that routes nothing (ufw applies them at each start)
    "net.ipv4.conf.all.rp_filter": 1, "net.ipv4.conf.default.rp_filter": 1,
    "net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.default.send_redirects": 0,
    "net.ipv4.conf.all.accept_source_route": 0, "net.ipv4.conf.default.accept_source_route": 0,
    "net.ipv4.conf.all.log_martians": 1, "net.ipv4.conf.default.log_martians": 1,
}
firewall_logging = "low"  # ufw's log level: off, low (blocked packets, rate-limited), medium, high or full

# --- nginx (deploys/nginx.py) ---------------------------------------------------
client_max_body_size = "2m"  # largest request body nginx accepts
hsts_max_age = 63072000  # seconds browsers keep to HTTPS (two years, Mozilla's recommendation)
content_security_policy = (  # server-rendered pages: own scripts/styles only, Instagram images, no framing
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
auth_rate_limit = "10r/m"  # per client address: POSTs to /login and /register, and /oauth (strict)
auth_rate_burst = 5  # extra requests allowed at once there before 429
page_rate_limit = "60r/m"  # per client address: views of /login and /register (more than any person makes)
page_rate_burst = 30  # extra views allowed at once there before 429
nginx_client_timeout = "10s"  # longest pause a client may make while sending a request or reading an answer
nginx_keepalive_timeout = "30s"  # how long an idle client connection stays open
nginx_connections_per_client = 20  # requests in progress at once per client address (HTTP/2: per stream)
webhook_rate_limit = "20r/s"  # per sender address on /webhook (Meta sends in bursts)
webhook_rate_burst = 200  # extra webhook requests absorbed at once before 429
upstream_keepalive = 16  # idle connections to the app each nginx worker keeps for reuse
upstream_keepalive_timeout = "4s"  # under gunicorn's keepalive (5 s): nginx never reuses one the app is closing

# --- TLS (deploys/certbot.py) ---------------------------------------------------
acme_directory = "https://acme-v02.api.letsencrypt.org/directory"  # Let's Encrypt production; staging: https://acme-staging-v02.api.letsencrypt.org/directory
acme_ca_bundle = None  # PEM CA(s) certbot trusts for the ACME directory (REQUESTS_CA_BUNDLE), or None for the system store
acme_email = None  # contact address for the ACME account (expiry notices), or None for no address
acme_webroot = "/var/www/letsencrypt"  # where certbot puts http-01 challenge files; nginx serves them on port 80

# --- systemd sandboxes (drop-ins from deploys/nginx.py, postgres.py, certbot.py, ssh.py) ---
daemon_exposure_max = 4.5  # highest `systemd-analyze security` exposure nginx, PostgreSQL and certbot may score (tests/host)
ssh_exposure_max = 9.2  # ssh.service's own: its login sessions need full privileges (docs/security.md)

# --- secrets (deploys/lib/credentials.py) ---------------------------------------
# Looked up in order: the operator's environment, Doppler, then secrets_file.
doppler_project = "insta-connect-demo"  # Doppler project (document section 6)
doppler_config = "dev_insta"  # Doppler config to download; None skips Doppler
secrets_file = "secrets.env"  # untracked KEY=value file, relative to the repo (gitignored)

# --- PostgreSQL (deploys/postgres.py) ---------------------------------------
postgres_version = 16  # major to install on Ubuntu (22.04 gets it from the PGDG repo); Debian uses its own
db_name = "insta_connect_demo"  # database the app uses
db_user = "insta_user"  # role that owns it; its password is the DB_PASSWORD secret
db_port = 5432  # listens on localhost only
postgres_max_connections = 50  # app pool (4 per worker) plus jobs, backups and psql sessions
postgres_shared_buffers_ratio = 0.25  # share of the host's RAM for shared_buffers
postgres_effective_cache_ratio = 0.75  # share of RAM the planner assumes the OS caches

# --- app (deploys/app.py) ---------------------------------------------------
app_user = "nodejs"  # system user the service runs as (no login shell, no sudo)
app_dir = "/opt/insta-connect-demo"  # not the document's /root/...: a service user cannot read /root
app_socket = "/run/insta-connect-demo.sock"  # the app's listener (not the document's port 3000): only nginx's group may connect
node_env = "production"  # NODE_ENV: production or development
log_level = "info"  # LOG_LEVEL
web_concurrency = 2  # gunicorn workers (WEB_CONCURRENCY)
oauth_redirect_uri = None  # OAUTH_REDIRECT_URI; None means https://<domain>/oauth/callback
meta_base_urls = {}  # INSTAGRAM_AUTHORIZE_URL / _API_BASE / _GRAPH_BASE overrides; {} uses Meta's
pip_index_url = None  # a PyPI mirror for the venv, or None for pip's default
app_releases_kept = 3  # releases kept in app_dir/releases (current and previous always among them): rollback targets

# --- services (deploys/services.py) -----------------------------------------
token_refresh_schedule = "*-*-* 02:00:00 UTC"  # systemd OnCalendar: daily at 2 AM UTC
webhook_processor_schedule = "*:0/5"  # systemd OnCalendar: every 5 minutes

# --- logs (deploys/logs.py) -------------------------------------------------
log_retention_days = 14  # app_dir/logs/*.log older than this are deleted
journal_max_use = "500M"  # cap on the persistent journal's disk use

# --- backups (deploys/backups.py, pull_backups.py, restore.py) --------------
backup_dir = "/root/backups"  # encrypted dumps on the server (mode 0700)
backup_schedule = "*-*-* 01:00:00 UTC"  # systemd OnCalendar: daily at 1 AM UTC
backup_retention_days = 30  # older dumps are deleted on the server
backup_recipient = None  # age public key (age1...) dumps are encrypted to; required
backup_identity_file = None  # operator's age private key file, for restore and checks; never on the server
local_backup_dir = "backups"  # where pull_backups.py puts copies, per host (gitignored)
pull_backups_count = 7  # how many of the newest backups pull_backups.py keeps in sync locally
restore_backup = None  # restore.py: file name of the backup to restore; None: the rule in deploys/lib/pulled_backups.py
restore_confirmed = False  # restore.py: True to restore a named backup that rule would refuse (a deliberate rollback)

# --- Redis (deploys/redis.py) -----------------------------------------------
redis_enabled = False  # run redis-server for the rate-limit counters (REDIS_URL); password REDIS_PASSWORD
redis_port = 6379  # bound to 127.0.0.1 only
redis_maxmemory = "256mb"  # memory cap; when full, writes fail rather than counters being evicted
