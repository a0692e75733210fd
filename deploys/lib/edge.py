"""What the nginx and certbot deploys share."""

# Checks, reloads (or starts) and fails unless nginx took the new config up:
# templates/usr/local/sbin/nginx-reload.j2, installed by deploys/nginx.py.
NGINX_RELOAD = "/usr/local/sbin/nginx-reload"


def live_dir(domain: str) -> str:
    """certbot's live directory for domain, where nginx reads the certificate."""
    return f"/etc/letsencrypt/live/{domain}"
