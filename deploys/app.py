"""The app (document sections 2.2, 3.1, 6): the nodejs service user, the code
as releases (deploys/lib/releases.py), the environment files, and the
migrations.

A new release is uploaded as one archive, unpacked beside the others and
renamed into place whole; its venv (shared by releases with the same
app/requirements.txt) is built once; the migrations run with the new code;
then app_dir/current is switched to it in one rename. deploys/services.py
restarts the service onto it. Releases beyond the newest `app_releases_kept`
are removed, never the current or previous one."""

import shlex

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import Directory
from pyinfra.operations import apt, files, server

from app.config import PROCESSES, SUPPLIED
from deploys.lib import credentials
from deploys.lib.app_runtime import APP, DOCUMENT_APP_DIR, RELEASE_STAMP, app_command, env_file
from deploys.lib.operations import secret_file
from deploys.lib.owed import forget, writes
from deploys.lib.releases import app_releases, artefact, requirements_id, switch_command
from deploys.lib.templates import render

APP_DIR = host.data.app_dir
USER = host.data.app_user
RELEASE, ARCHIVE = artefact()
RELEASE_DIR = f"{APP_DIR}/releases/{RELEASE}"
VENV_ID = requirements_id()
VENV = f"{APP_DIR}/venvs/{VENV_ID}"
# A killed deploy leaves its last command running on the host: a re-run waits for it
# here, then finds the venv built, rather than building it at the same time.
VENV_LOCK = f"/run/lock/{APP}-venv.lock"

app_secrets = credentials.require(*credentials.APP_SECRETS, *(("REDIS_PASSWORD",) if host.data.redis_enabled else ()))
env = render("templates/opt/insta-connect-demo/.env.j2", s=app_secrets, supplied=SUPPLIED)
credentials.check_app_env(env)  # while pyinfra prepares: before any operation touches the host
if host.get_fact(Directory, path=DOCUMENT_APP_DIR):  # a host set up by the document's hand: its checkout
    raise DeployError(f"{host.name}: {DOCUMENT_APP_DIR} is a directory (the app as the infrastructure document "
                      f"installed it); nothing was changed. Move it aside first: mv {DOCUMENT_APP_DIR} "
                      f"{DOCUMENT_APP_DIR}.before-pyinfra (docs/operations.md, \"The app directory\")")
on_host = app_releases()


def pip_install_command() -> str:
    options = ["--no-input", "--disable-pip-version-check", "--no-deps"]  # every dependency is pinned
    if host.data.https_proxy:
        options += ["--proxy", host.data.https_proxy, "--cert", "/etc/ssl/certs/ca-certificates.crt"]
    if host.data.pip_index_url:
        options += ["--index-url", host.data.pip_index_url]
    # Built under a hidden name and renamed whole, like a release: a venv in
    # venvs/ is complete. Its scripts (shebangs, activate) name the final path.
    building = f"{APP_DIR}/venvs/.{VENV_ID}"
    build = (f"[ -d {VENV} ] || {{ rm -rf {building} && python3 -m venv --prompt {VENV_ID} {building} && "
             f"{building}/bin/python -m pip install {' '.join(options)} -r {RELEASE_DIR}/app/requirements.txt && "
             f"{building}/bin/python -m pip check && "
             f"grep -lrI {building} {building}/bin | xargs -r sed -i 's|{building}|{VENV}|g' && "
             f"mv -T {building} {VENV}; }}")
    return f"flock {VENV_LOCK} sh -c {shlex.quote(build)}"


apt.packages(
    name="Install Python's venv support",
    packages=["python3-venv"],
)
server.user(
    name=f"Create the {USER} service user (no login shell, no sudo)",
    user=USER,
    system=True,
    home=APP_DIR,
    create_home=False,
    ensure_home=False,  # root owns app_dir; the user only reads it
    shell="/usr/sbin/nologin",
)
# root owns the code and the venvs; the service can read them, not change them.
for path, owner, mode in ((APP_DIR, "root", "750"), (f"{APP_DIR}/releases", "root", "750"),
                          (f"{APP_DIR}/venvs", "root", "750"), (f"{APP_DIR}/logs", USER, "750")):
    files.directory(
        name=f"Create {path} ({owner}:{USER}, {mode})",
        path=path,
        user=owner, group=USER, mode=mode,
    )

# The document's path leads root there (its cd, tail and .env commands); /root stays root's alone.
files.link(
    name=f"Lead root's {DOCUMENT_APP_DIR} to {APP_DIR}",
    path=DOCUMENT_APP_DIR,
    target=APP_DIR,
)

edited = RELEASE in on_host["releases"] and on_host["content"] != RELEASE  # its files no longer hash to its id
if RELEASE not in on_host["releases"] or edited:
    incoming = f"{APP_DIR}/releases/.{RELEASE}"  # hidden: not a release until renamed whole
    files.put(
        name=f"Upload release {RELEASE} (the repo's app/, one archive)",
        src=str(ARCHIVE),
        dest=f"{incoming}.tar.gz",
        mode="600",
    )
    # An edited copy is set aside by one rename, and the repo's takes its place by another.
    set_aside = f"mv -T {RELEASE_DIR} {incoming}.edited && " if edited else ""
    # The service may have been restarted onto the edit since: its restart is owed
    # again whatever the files say, from before the swap, so an interruption keeps it owed.
    edited_current = edited and on_host["current"] == RELEASE
    forget_restart = f"{forget(RELEASE_STAMP)} && " if edited_current else ""
    unpack = server.shell(
        name=f"Unpack release {RELEASE} and put it in place whole"
             + (" (the host's copy was edited: replaced)" if edited else ""),
        commands=[f"{forget_restart}rm -rf {incoming} {incoming}.edited && mkdir {incoming} "
                  f"&& tar -xzf {incoming}.tar.gz -C {incoming} --no-same-owner "
                  f"&& ln -s ../../venvs/{VENV_ID} {incoming}/venv && chown -R root:{USER} {incoming} "
                  f"&& chmod -R u=rwX,g=rX,o= {incoming} && {set_aside}mv -T {incoming} {RELEASE_DIR} "
                  f"&& rm -rf {incoming}.tar.gz {incoming}.edited"],
    )
    if edited_current:
        writes(unpack, (f"{APP_DIR}/current",))  # the service's restart is owed for it
if VENV_ID not in on_host["venvs"]:
    server.shell(
        name=f"Build the venv {VENV_ID} with app/requirements.txt's pins",
        commands=[pip_install_command()],
    )

for process in PROCESSES:
    secret_file(
        name=f"Write {env_file(process)}: what the {process} process reads (0640 root:{USER}; never printed)",
        dest=env_file(process),
        content=credentials.env_for_process(process, env),
        user="root", group=USER, mode="640",
    )

if on_host["current"] != RELEASE:
    server.shell(
        name=f"Run the database migrations with release {RELEASE}",
        commands=[app_command("-m", "app.migrate", release_dir=RELEASE_DIR)],
    )
    writes(server.shell(
        name=f"Make release {RELEASE} current (one rename; the one it replaces becomes previous)",
        commands=[switch_command(RELEASE, on_host["current"])],
    ), (f"{APP_DIR}/current",))  # the service's restart is owed for it (deploys/services.py)

# The current and previous releases always stay; the newest others fill up to app_releases_kept.
releases = {RELEASE: VENV_ID, **on_host["releases"]}
kept = {RELEASE, on_host["current"], on_host["previous"]} - {None}
others = [release for release in releases if release not in kept]
stale = others[max(0, host.data.app_releases_kept - len(kept)):]
unused_venvs = set(on_host["venvs"]) - {releases[release] for release in releases if release not in stale}
if stale or unused_venvs:
    server.shell(
        name=f"Remove releases beyond the newest {host.data.app_releases_kept}, and venvs no release uses",
        commands=["rm -rf " + " ".join([*(f"{APP_DIR}/releases/{release}" for release in stale),
                                        *(f"{APP_DIR}/venvs/{venv}" for venv in sorted(unused_venvs))])],
    )
