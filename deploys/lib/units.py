"""Installing systemd units: rendered from templates, checked with
systemd-analyze verify before systemd loads them, then one daemon-reload;
also on the next run, when an interrupted deploy left it owed. And the restart
that a daemon's changed drop-ins (its sandbox) call for."""

from collections.abc import Callable

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, server, systemd

from deploys.lib.facts import UnitsNeedReload
from deploys.lib.owed import mark_done, owed
from deploys.lib.templates import template

UNIT_DIR = "/etc/systemd/system"


def install_units(units: dict[str, tuple[str, dict]]) -> dict[str, OperationMeta]:
    """units: {unit file name: (template, template variables)} -> {name: its upload op}."""
    ops = {
        unit: template(
            name=f"Install {unit}",
            src=src,
            dest=f"{UNIT_DIR}/{unit}",
            mode="644",
            **variables,
        )
        for unit, (src, variables) in units.items()
    }
    changed = units_changed(ops.values(), units)
    server.shell(
        name="Check the changed units with systemd-analyze verify",
        commands=["systemd-analyze verify " + " ".join(f"{UNIT_DIR}/{unit}" for unit in units)],
        _if=changed,
    )
    systemd.daemon_reload(
        name="Reload systemd for the changed units",
        _if=changed,
    )
    return ops


def install_drop_in(unit: str, path: str, description: str, present: bool = True, src: str | None = None,
                    **template_data) -> OperationMeta:
    """unit's drop-in at path, rendered from src (default: templates<path>.j2), or
    removed with present=False; then a daemon-reload if it changed (or systemd
    has not loaded it yet). Returns the file's op. A restart the drop-in calls
    for is restart_for_drop_ins's."""
    if present:
        op = template(
            name=f"{unit}: {description} (drop-in)",
            src=src or f"templates{path}.j2",
            dest=path,
            mode="644",
            create_remote_dir=True,
            **template_data,
        )
    else:
        op = files.file(
            name=f"{unit}: not {description} (drop-in removed)",
            path=path,
            present=False,
        )
    systemd.daemon_reload(
        name=f"Reload systemd units ({unit}: {description})",
        _if=units_changed((op,), (unit,)),
    )
    return op


def units_changed(ops, units) -> Callable[[], bool]:
    """An `_if`: one of ops (writing unit files or drop-ins) changed, or systemd
    still has an older version of one of units loaded. Asked of systemd too, not
    only of this run's changes: an interrupted run may have left them unloaded."""
    return lambda: any(op.did_change() for op in ops) or host.get_fact(UnitsNeedReload, units=tuple(units))


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


def schedule_timer(timer: str, unit_op: OperationMeta) -> None:
    started = enable_and_start(timer)
    systemd.service(
        name=f"Restart {timer} for its new schedule",
        service=timer,
        restarted=True,
        _if=lambda: unit_op.did_change() and not started.did_change(),
    )


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
