"""The app (document sections 2.2, 3.1, 6): the nodejs service user, the code
from the repo's app/, a venv with its pinned dependencies, the .env (and one
environment file per other process, with only the secrets it reads), and the
migrations, run whenever the code, dependencies, .env or unit changed since
the service last (re)started: still owed after an interrupted deploy."""

import hashlib
import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.facts.files import File, Sha256File
from pyinfra.operations import apt, files, server

from app.config import PROCESSES
from deploys.lib import credentials
from deploys.lib.app import RELEASE_STAMP, app_command, env_file, installed_requirements, release_files
from deploys.lib.operations import secret_file
from deploys.lib.owed import owed
from deploys.lib.templates import render

APP_DIR = host.data.app_dir
USER = host.data.app_user
VENV = f"{APP_DIR}/venv"
REQUIREMENTS = Path("app/requirements.txt")
INSTALLED = installed_requirements()
# A killed deploy leaves its last command running on the host: a re-run waits for it
# here rather than building the same venv at the same time.
VENV_LOCK = f"/run/lock/{host.data.app_name}-venv.lock"

app_secrets = credentials.require(*credentials.APP_SECRETS, *(("REDIS_PASSWORD",) if host.data.redis_enabled else ()))
env = render("templates/opt/insta-connect-demo/.env.j2", s=app_secrets)
credentials.check_app_env(env)  # while pyinfra prepares: before any operation touches the host


def venv_locked(command: str) -> str:
    return f"flock {VENV_LOCK} sh -c {shlex.quote(command)}"


def pip_install_command() -> str:
    options = ["--no-input", "--disable-pip-version-check", "--no-deps"]  # every dependency is pinned
    if host.data.https_proxy:
        options += ["--proxy", host.data.https_proxy, "--cert", "/etc/ssl/certs/ca-certificates.crt"]
    if host.data.pip_index_url:
        options += ["--index-url", host.data.pip_index_url]
    return venv_locked(f"{VENV}/bin/pip install {' '.join(options)} -r {APP_DIR}/app/requirements.txt && "
                       f"{VENV}/bin/pip check && cp {APP_DIR}/app/requirements.txt {INSTALLED}")


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
# root owns the code and the venv; the service can read them, not change them.
files.directory(
    name=f"Create {APP_DIR} (root:{USER}, 0750)",
    path=APP_DIR,
    user="root", group=USER, mode="750",
)
files.directory(
    name=f"Create {APP_DIR}/logs, writable by {USER} only",
    path=f"{APP_DIR}/logs",
    user=USER, group=USER, mode="750",
)
files.sync(
    name="Upload the app's code from the repo's app/",
    src="app",
    dest=f"{APP_DIR}/app",
    user="root", group=USER, mode="640", dir_mode="750",
    delete=True,
    exclude=["*.pyc", ".env", ".env.*"],  # a developer's local settings never reach the host
    exclude_dir=["__pycache__", "*/__pycache__"],
)
server.shell(
    name="Create the app's venv",
    # pip is the last thing venv installs: a venv interrupted before it is made again.
    commands=[venv_locked(f"python3 -m venv --clear {VENV}")],
    _if=lambda: not host.get_fact(File, path=f"{VENV}/bin/pip"),
)
server.shell(
    name="Install the app's pinned dependencies into the venv (when they changed)",
    commands=[pip_install_command()],
    _if=lambda: host.get_fact(Sha256File, path=INSTALLED) != hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
)
for process in PROCESSES:
    secret_file(
        name=f"Write {env_file(process)}: what the {process} process reads (0640 root:{USER}; never printed)",
        dest=env_file(process),
        content=credentials.env_for_process(process, env),
        user="root", group=USER, mode="640",
    )
server.shell(
    name="Run the database migrations (code, dependencies, .env or unit changed)",
    commands=[app_command("-m", "app.migrate")],
    _if=lambda: owed(RELEASE_STAMP, release_files()),
)
