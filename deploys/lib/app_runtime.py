"""What the app's deploys share: where each process's environment file is,
the files the running service was started from, and how to run an app
command on the host."""

from pyinfra import host

from app.config import ADMIN, WEB
from deploys.lib.units import UNIT_DIR

# The service's name, as the document gives it: its systemd units, nginx site,
# backups and the names of the files the deploys write for it. Not a setting.
APP = "insta-connect-demo"
DOCUMENT_APP_DIR = "/root/insta-connect-demo"  # where the infrastructure document has the app: root's link to app_dir
RELEASE_STAMP = "app-release"  # deploys/lib/owed.py: a restart is owed for these files


def env_file(process: str, app_dir: str | None = None) -> str:
    """The environment file of one of the app's processes (app/config.py) in
    app_dir (default: the current host's): the web service's is the document's
    .env; each other one holds only what it reads."""
    return f"{app_dir or host.data.app_dir}/.env" + ("" if process == WEB else f".{process}")


def release_files() -> tuple[str, ...]:
    """What the service runs: the current release (its code, and the requirements
    its venv was built from), .env and units. A change to any of them owes a
    restart until it is done."""
    data = host.data
    return (f"{data.app_dir}/current/", env_file(WEB), f"{UNIT_DIR}/{APP}.service", f"{UNIT_DIR}/{APP}.socket")


def app_command(*argv: str, release_dir: str | None = None) -> str:
    """A command run the way the units run the app: as the service user, with
    the admin process's environment file, from a release (default: the current
    one) with its venv, and with its output in the journal and on stdout."""
    data = host.data
    release_dir = release_dir or f"{data.app_dir}/current"
    return " ".join([
        "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        f"--uid={data.app_user}", f"--gid={data.app_user}",
        f"--working-directory={release_dir}", f"--property=EnvironmentFile={env_file(ADMIN)}",
        f"{release_dir}/venv/bin/python", *argv,
    ])


def health_check_command() -> str:
    """Waits (briefly) for the app to answer /health on its socket; fails if it never does."""
    return (f"curl -fsS --retry 15 --retry-connrefused --retry-delay 1 "
            f"--unix-socket {host.data.app_socket} http://localhost/health")
