"""What the nginx and certbot deploys share."""

# Reloads (or starts) nginx, whose ExecReload checks the config, and fails
# unless nginx took it up: templates/usr/local/sbin/nginx-reload.j2, installed
# by deploys/nginx.py. certbot's renewal hook, which only renews a
# certificate, runs `systemctl reload nginx` itself.
NGINX_RELOAD = "/usr/local/sbin/nginx-reload"


def live_dir(domain: str) -> str:
    """certbot's live directory for domain, where nginx reads the certificate."""
    return f"/etc/letsencrypt/live/{domain}"
