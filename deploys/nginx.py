"""nginx: the public edge. Port 80 serves the ACME webroot and redirects the
rest; port 443 terminates TLS and proxies to the app. The site goes live only
after `nginx -t` accepts it (deploys/lib/validated.py)."""

from pyinfra import host
from pyinfra.facts.files import Directory
from pyinfra.operations import apt, files, server, systemd

from deploys.lib.validated import validated_template
from deploys.lib.templates import template

domain = host.data.domain
site = host.data.app_name
live_dir = f"/etc/letsencrypt/live/{domain}"

apt.packages(
    name="Install nginx",
    packages=["nginx"],
)
files.directory(
    name="ACME http-01 webroot",
    path=host.data.acme_webroot,
    mode="755",
)
for page, shown in (("403", "to addresses outside admin_ips"), ("50x", "while the app is unreachable")):
    template(
        name=f"Error page nginx shows {shown} ({page}.html)",
        src=f"templates/var/www/errors/{page}.html.j2",
        dest=f"/var/www/errors/{page}.html",
        mode="644",
        create_remote_dir=True,
    )
# nginx cannot start on a certificate that does not exist yet: until certbot's
# first issue (deploys/certbot.py) a self-signed one stands at the live path.
server.shell(
    name=f"Self-signed placeholder certificate for {domain} (until the first issue)",
    commands=[
        f"mkdir -p {live_dir}",
        f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30"
        f" -subj /CN={domain} -addext subjectAltName=DNS:{domain}"
        f" -keyout {live_dir}/privkey.pem -out {live_dir}/fullchain.pem",
        f"chmod 600 {live_dir}/privkey.pem",
    ],
    _if=lambda: not host.get_fact(Directory, path=live_dir),  # neither placeholder nor certbot's
)
default_site = files.link(
    name="Disable the distribution's default site",
    path="/etc/nginx/sites-enabled/default",
    present=False,
)
enabled = files.link(
    name=f"Enable the {site} site",
    path=f"/etc/nginx/sites-enabled/{site}",
    target=f"/etc/nginx/sites-available/{site}",
)
validated_template(
    f"nginx site {site}",
    src=f"templates/etc/nginx/sites-available/{site}.j2",
    dest=f"/etc/nginx/sites-available/{site}",
    check="nginx -t -q",
    activate="systemctl reload-or-restart nginx",
    also_when=(default_site, enabled),
)
systemd.service(
    name="Keep nginx enabled and running",
    service="nginx",
    enabled=True,
    running=True,
)
