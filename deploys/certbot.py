"""TLS with certbot (distro package, webroot). The first deploy replaces
nginx's placeholder with an issued certificate; later runs leave a valid one
alone; certbot's own systemd timer renews, in a systemd sandbox (a drop-in),
and a deploy hook reloads nginx."""

from io import StringIO

from pyinfra import host
from pyinfra.facts.files import FindInFile
from pyinfra.operations import apt, files, server, systemd

from deploys.lib.edge import NGINX_RELOAD, live_dir
from deploys.lib.templates import template
from deploys.lib.units import UNIT_DIR, install_drop_in, restart_for_drop_ins

domain = host.data.domain
directory = host.data.acme_directory
live = live_dir(domain)
renewal_conf = f"/etc/letsencrypt/renewal/{domain}.conf"
placeholder_aside = f"/var/lib/letsencrypt/placeholder-{domain}"
bundle = "/etc/letsencrypt/acme-ca-bundle.pem"
sandboxing = f"{UNIT_DIR}/certbot.service.d/sandboxing.conf"
hook = "/etc/letsencrypt/renewal-hooks/deploy/reload-nginx"
ca_env = {"REQUESTS_CA_BUNDLE": bundle} if host.data.acme_ca_bundle else {}

apt.packages(
    name="Install certbot",
    packages=["certbot"],
)

if host.data.acme_ca_bundle:
    files.put(
        name="CA bundle certbot trusts for the ACME directory",
        src=StringIO(host.data.acme_ca_bundle),
        dest=bundle,
        mode="644",
    )
else:
    files.file(
        name="No extra CA bundle for the ACME directory (the system store is used)",
        path=bundle,
        present=False,
    )
# Renewals run from certbot.service (the distro's timer), so it needs the bundle too.
install_drop_in("certbot.service", f"{UNIT_DIR}/certbot.service.d/acme-ca-bundle.conf",
                "renewals trust the ACME directory's CA bundle", present=bool(host.data.acme_ca_bundle), bundle=bundle)
install_drop_in("certbot.service", sandboxing, "its sandbox")
template(
    name="certbot's defaults: the ACME directory (also for --dry-run), no random sleep before renewing",
    src="templates/etc/letsencrypt/cli.ini.j2",
    dest="/etc/letsencrypt/cli.ini",
    mode="644",
)
template(
    name="Deploy hook: reload nginx after each renewal",
    src=f"templates{hook}.j2",
    dest=hook,
    mode="755",
)


def needs_issue() -> bool:
    """No certificate from certbot yet (only the placeholder), or one from
    another ACME directory than group data names (e.g. staging -> production)."""
    return not host.get_fact(FindInFile, path=renewal_conf, pattern=f"^server = {directory}$")


contact = ["--email", host.data.acme_email] if host.data.acme_email else ["--register-unsafely-without-email"]
certonly = " ".join([
    "certbot certonly --non-interactive --agree-tos --webroot", "--webroot-path", host.data.acme_webroot,
    "--cert-name", domain, "--domain", domain, "--server", directory, *contact,
    # Only reached when the directory changed for an existing certificate.
    f"$( [ -e {renewal_conf} ] && echo --force-renewal )",
])
server.shell(
    name=f"Issue the certificate for {domain} from {directory} and switch nginx to it",
    commands=[
        # certbot refuses to write into an existing live directory: move the placeholder aside.
        f"if [ ! -e {renewal_conf} ] && [ -d {live} ]; then rm -rf {placeholder_aside}; "
        f"mkdir -p /var/lib/letsencrypt; mv {live} {placeholder_aside}; fi",
        f"if ! {certonly}; then [ -d {placeholder_aside} ] && [ ! -e {live} ] "
        f"&& mv {placeholder_aside} {live}; exit 1; fi",
        f"rm -rf {placeholder_aside}",
        NGINX_RELOAD,
    ],
    _env=ca_env,
    _if=needs_issue,
)
# certbot.service is a oneshot the timer starts: run it once, as the timer would
# (a renew pass: nothing is due unless a renewal really is), then the deploy
# hook in the same sandbox, added for this run only: certbot itself only warns
# when a hook fails, so a sandbox that kept the hook from reloading nginx would
# pass unseen until the certificate expired. Again whenever the hook changes.
check_drop_in = "/run/systemd/system/certbot.service.d/zz-deploy-check.conf"
restart_for_drop_ins(
    "certbot.service", (sandboxing, hook),
    check=(f"trap 'rm -f {check_drop_in}; systemctl daemon-reload' EXIT; "
           f"mkdir -p {check_drop_in.rsplit('/', 1)[0]} && "
           f"printf '[Service]\\nExecStartPost={hook}\\n' > {check_drop_in} && "
           "systemctl daemon-reload && systemctl start certbot.service"),
    checks="a renew pass and the deploy hook's nginx reload succeed",
    restart=False,
)
systemd.service(
    name="certbot.timer renews twice a day",
    service="certbot.timer",
    enabled=True,
    running=True,
)
