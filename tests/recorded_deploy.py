"""Runs one deploy and records what it did, through pyinfra's own API, for
the tests to read instead of pyinfra's printed output:

    pyinfra -y INVENTORY tests/recorded_deploy.py --data deploy=deploys/site.py --data record=OUT.json

OUT.json, written when pyinfra exits: per host, the commands run on it
(facts included), and each operation's names with whether it changed
something and whether it succeeded, in the order they ran. tests/pyinfra_run.py
runs deploys this way.
"""

import atexit
import json

from pyinfra import host, local, state
from pyinfra.api.host import Host

_commands: dict[str, list[str]] = {}
_run_shell_command = Host.run_shell_command


def _recorded(self, *args, **kwargs):
    _commands.setdefault(self.name, []).append(str(kwargs["command"] if "command" in kwargs else args[0]))
    return _run_shell_command(self, *args, **kwargs)


def _write(path: str) -> None:
    record = {}
    for each in state.inventory:
        operations = []
        for op_hash in state.get_op_order():
            data = state.ops.get(each, {}).get(op_hash)
            if data is None or not data.operation_meta.is_complete():
                continue
            meta = data.operation_meta
            operations.append({"names": sorted(state.get_op_meta(op_hash).names),
                               "changed": meta.did_change(), "succeeded": meta.did_succeed()})
        record[each.name] = {"commands": _commands.get(each.name, []), "operations": operations}
    with open(path, "w") as out:
        json.dump(record, out, indent=1)


if not getattr(Host.run_shell_command, "recorded", False):
    _recorded.recorded = True
    Host.run_shell_command = _recorded
    atexit.register(_write, host.data.record)
local.include(host.data.deploy)
