"""nginx: the public edge. Port 80 serves the ACME webroot and redirects the
rest; port 443 terminates TLS and proxies to the app. The site goes live only
after `nginx -t` accepts it (deploys/lib/validated.py). nginx runs in a systemd
sandbox (a drop-in), restarted into it once per change of the drop-in."""

from pyinfra import host
from pyinfra.facts.files import Directory
from pyinfra.operations import apt, files, server

from deploys.lib.app_runtime import APP
from deploys.lib.edge import NGINX_RELOAD, live_dir
from deploys.lib.owed import after_change
from deploys.lib.templates import template
from deploys.lib.units import UNIT_DIR, enable_and_start, install_drop_in, restart_for_drop_ins
from deploys.lib.validated import checked_in_copy, validated_template

domain = host.data.domain
site = APP
live = live_dir(domain)
sandboxing = f"{UNIT_DIR}/nginx.service.d/sandboxing.conf"

apt.packages(
    name="Install nginx",
    packages=["nginx"],
)
# Loaded now, so every reload below already checks the config in the sandbox;
# the running nginx moves into it with the restart at the end.
install_drop_in("nginx.service", sandboxing, "its sandbox")
template(
    name="Install nginx-reload (check, reload, and fail unless nginx took the new config up)",
    src="templates/usr/local/sbin/nginx-reload.j2",
    dest=NGINX_RELOAD,
    mode="755",
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
# Before the site, which relies on what it sets (TLS, limit zones); checked with
# the live sites, which it must serve as they are.
validated_template(
    "nginx.conf: TLS, timeouts and connection limits for every site",
    src="templates/etc/nginx/nginx.conf.j2",
    dest="/etc/nginx/nginx.conf",
    check="nginx -t -q -c {candidate}",
    checker="nginx -t -q",
    activate=NGINX_RELOAD,
)
# nginx cannot start on a certificate that does not exist yet: until certbot's
# first issue (deploys/certbot.py) a self-signed one stands at the live path.
server.shell(
    name=f"Self-signed placeholder certificate for {domain} (until the first issue)",
    commands=[
        f"mkdir -p {live}",
        f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30"
        f" -subj /CN={domain} -addext subjectAltName=DNS:{domain}"
        f" -keyout {live}/privkey.pem -out {live}/fullchain.pem",
        f"chmod 600 {live}/privkey.pem",
    ],
    _if=lambda: not host.get_fact(Directory, path=live),  # neither placeholder nor certbot's
)
# The site is checked in a copy of /etc/nginx laid out as it will be once live:
# enabled, and the distribution's default site (which also claims
# default_server on port 80) gone.
validated_template(
    f"nginx site {site}",
    src=f"templates/etc/nginx/sites-available/{site}.j2",
    dest=f"/etc/nginx/sites-available/{site}",
    check=checked_in_copy("/etc/nginx", "nginx.conf", f"sites-enabled/{site}", 'nginx -t -q -c "$copy/nginx.conf"',
                          remove=("sites-enabled/default",)),
    checker="nginx -t -q",
    activate=NGINX_RELOAD,
)
# Default site out first, then ours in: each step leaves a config nginx accepts.
files.link(
    name="Disable the distribution's default site",
    path="/etc/nginx/sites-enabled/default",
    present=False,
)
files.link(
    name=f"Enable the {site} site",
    path=f"/etc/nginx/sites-enabled/{site}",
    target=f"/etc/nginx/sites-available/{site}",
)
after_change("Reload nginx for the changed set of enabled sites", "nginx-enabled-sites",
             ("/etc/nginx/sites-enabled",), [NGINX_RELOAD])
started = enable_and_start("nginx.service")
# Port 80 answered by a worker (the redirect), TLS on 443, and a reload, whose
# `nginx -t` runs in the sandbox (certbot's deploy hook relies on it).
http = "curl -s -o /dev/null --noproxy '*' --max-time 10"
restart_for_drop_ins(
    "nginx.service", (sandboxing,),
    check=" && ".join([
        "systemctl is-active --quiet nginx",
        f"{http} -w '%{{http_code}}' -H 'Host: {domain}' http://127.0.0.1/ | grep -qx 301",
        f"{http} -k --resolve {domain}:443:127.0.0.1 https://{domain}/",
        "systemctl reload nginx",
    ]),
    checks="active, answers on 80 and 443, reloads",
    restarted_anyway=started.did_change,
)
