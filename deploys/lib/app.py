"""What the app's deploys share: how to run an app command on the host, and
which operations' changes mean the running service must restart.

The deploys that site.py includes run in one process, so the registry below
carries changes from deploys/app.py (code, venv, .env) to deploys/services.py.
"""

from collections import defaultdict

from pyinfra import host
from pyinfra.api.operation import OperationMeta

_restart_triggers: dict[str, list[OperationMeta]] = defaultdict(list)


def restart_on_change(*ops: OperationMeta) -> None:
    _restart_triggers[host.name].extend(ops)


def restart_needed() -> bool:
    """Call at execution time (inside `_if`), after the registered operations ran."""
    return any(op.did_change() for op in _restart_triggers[host.name])


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
