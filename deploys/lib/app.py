"""What the app's deploys share: where the venv records what it was built
from, the files the running service was started from, and how to run an app
command on the host."""

from pyinfra import host

from app.config import ADMIN, WEB

RELEASE_STAMP = "app-release"  # deploys/lib/owed.py: migrations and a restart are owed for these files


def installed_requirements() -> str:
    """The copy of app/requirements.txt the venv was last built from, written after the build succeeded."""
    return f"{host.data.app_dir}/venv/installed-requirements.txt"


def env_file(process: str) -> str:
    """The environment file of one of the app's processes (app/config.py): the
    web service's is the document's .env; each other one holds only what it reads."""
    return f"{host.data.app_dir}/.env" + ("" if process == WEB else f".{process}")


def release_files() -> tuple[str, ...]:
    """What the service runs: its code, dependencies, .env and unit. A change to
    any of them owes the migrations and a restart until both are done."""
    data = host.data
    return (f"{data.app_dir}/app", installed_requirements(), env_file(WEB),
            f"/etc/systemd/system/{data.app_name}.service", f"/etc/systemd/system/{data.app_name}.socket")


def app_command(*argv: str) -> str:
    """A command run the way the units run the app: as the service user, with
    the admin process's environment file, from app_dir, and with its output in
    the journal and on stdout."""
    data = host.data
    return " ".join([
        "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        f"--uid={data.app_user}", f"--gid={data.app_user}",
        f"--working-directory={data.app_dir}", f"--property=EnvironmentFile={env_file(ADMIN)}",
        f"{data.app_dir}/venv/bin/python", *argv,
    ])


def health_check_command() -> str:
    """Waits (briefly) for the app to answer /health on its socket; fails if it never does."""
    return (f"curl -fsS --retry 15 --retry-connrefused --retry-delay 1 "
            f"--unix-socket {host.data.app_socket} http://localhost/health")
