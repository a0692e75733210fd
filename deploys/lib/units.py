"""Installing systemd units: rendered from templates, checked with
systemd-analyze verify before systemd loads them, then one daemon-reload;
also on the next run, when an interrupted deploy left it owed. And the restart
that a daemon's changed drop-ins (its sandbox) call for."""

from collections.abc import Callable

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, server, systemd

from deploys.lib.owed import after_change, mark_done, owed
from deploys.lib.templates import template

UNIT_DIR = "/etc/systemd/system"


def install_units(units: dict[str, tuple[str, dict]]) -> None:
    """units: {unit file name: (template, template variables)}. Changed units
    are checked with systemd-analyze verify, then loaded (after_change)."""
    for unit, (src, variables) in units.items():
        template(
            name=f"Install {unit}",
            src=src,
            dest=f"{UNIT_DIR}/{unit}",
            mode="644",
            **variables,
        )
    paths = tuple(f"{UNIT_DIR}/{unit}" for unit in units)
    after_change("Check the changed units with systemd-analyze verify, then reload systemd",
                 f"units-{next(iter(units))}", paths,
                 ["systemd-analyze verify " + " ".join(paths), "systemctl daemon-reload"])


def install_drop_in(unit: str, path: str, description: str, present: bool = True, src: str | None = None,
                    **template_data) -> None:
    """unit's drop-in at path, rendered from src (default: templates<path>.j2), or
    removed with present=False; then a daemon-reload once it changed. A restart
    the drop-in calls for is restart_for_drop_ins's."""
    if present:
        template(
            name=f"{unit}: {description} (drop-in)",
            src=src or f"templates{path}.j2",
            dest=path,
            mode="644",
            create_remote_dir=True,
            **template_data,
        )
    else:
        files.file(
            name=f"{unit}: not {description} (drop-in removed)",
            path=path,
            present=False,
        )
    after_change(f"Reload systemd units ({unit}: {description})", "drop-in" + path.replace("/", "-"), (path,),
                 ["systemctl daemon-reload"])


def enable_and_start(unit: str) -> OperationMeta:
    """Enable unit, and start it if it is stopped; returns the start op, whose
    did_change() means the unit was not running before (so it now runs whatever
    is on disk), unlike a change that only enabled it."""
    systemd.service(
        name=f"Enable {unit} at boot",
        service=unit,
        running=None,  # pyinfra's default (True) would start it here, and the step below never could
        enabled=True,
    )
    return systemd.service(
        name=f"Start {unit}",
        service=unit,
        running=True,
    )


def schedule_timer(timer: str) -> None:
    """Keep timer enabled and running, and restarted once its unit changed (its schedule)."""
    enable_and_start(timer)
    after_change(f"Restart {timer} for its new schedule", f"timer-{timer}", (f"{UNIT_DIR}/{timer}",),
                 [f"systemctl restart {timer}"])


def restart_for_drop_ins(unit: str, files: tuple[str, ...], check: str, checks: str, restart: bool = True,
                         restarted_anyway: Callable[[], bool] = lambda: False) -> None:
    """After the daemon-reload for unit's changed drop-ins (a sandbox applies
    only to processes started after it): restart unit, then run `check`
    (shell; `checks` says what it proves), which must pass. Owed
    (deploys/lib/owed.py) until both are done for `files` (the drop-ins, and
    anything else the check proves works in the sandbox) as they are now:
    once per change, again after a run interrupted in between, never on a
    run that changed nothing. restart=False for a oneshot unit, whose check
    runs it. restarted_anyway: the unit already (re)started since the
    daemon-reload in this run (a first start, a restart for its config)."""
    stamp = f"drop-ins-{unit}"
    if restart:
        systemd.service(
            name=f"Restart {unit} for its changed drop-ins",
            service=unit,
            restarted=True,
            _if=lambda: owed(stamp, files) and not restarted_anyway(),
        )
    server.shell(
        name=f"Check {unit} under its drop-ins: {checks}",
        commands=[check],
        _if=lambda: owed(stamp, files),
    )
    mark_done(f"Record that {unit} runs under its current drop-ins", stamp, files)
