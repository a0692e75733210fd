"""What the app's deploys share: where the venv records what it was built
from, the files the running service was started from, and how to run an app
command on the host."""

from pyinfra import host

RELEASE_STAMP = "app-release"  # deploys/lib/owed.py: migrations and a restart are owed for these files


def installed_requirements() -> str:
    """The copy of app/requirements.txt the venv was last built from, written after the build succeeded."""
    return f"{host.data.app_dir}/venv/installed-requirements.txt"


def release_files() -> tuple[str, ...]:
    """What the service runs: its code, dependencies, .env and unit. A change to
    any of them owes the migrations and a restart until both are done."""
    data = host.data
    return (f"{data.app_dir}/app", installed_requirements(), f"{data.app_dir}/.env",
            f"/etc/systemd/system/{data.app_name}.service")


def app_command(*argv: str) -> str:
    """A command run the way the units run the app: as the service user, with
    the .env, from app_dir, and with its output in the journal and on stdout."""
    data = host.data
    return " ".join([
        "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        f"--uid={data.app_user}", f"--gid={data.app_user}",
        f"--working-directory={data.app_dir}", f"--property=EnvironmentFile={data.app_dir}/.env",
        f"{data.app_dir}/venv/bin/python", *argv,
    ])


def health_check_command() -> str:
    """Waits (briefly) for the app to answer /health on loopback; fails if it never does."""
    return (f"curl -fsS --retry 15 --retry-connrefused --retry-delay 1 "
            f"http://127.0.0.1:{host.data.app_port}/health")
