"""Installing systemd units: rendered from templates, checked with
systemd-analyze verify before systemd loads them, then one daemon-reload;
also on the next run, when an interrupted deploy left it owed."""

from collections.abc import Callable

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import server, systemd

from deploys.lib.facts import UnitsNeedReload
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
