"""What the nginx and certbot deploys share."""

# Never reload into a config nginx refuses; start it if it is not running.
NGINX_RELOAD = "nginx -t -q && systemctl reload-or-restart nginx"


def live_dir(domain: str) -> str:
    """certbot's live directory for domain, where nginx reads the certificate."""
    return f"/etc/letsencrypt/live/{domain}"
