"""How the deploys read the host: a fact is read once and reused until an
operation changes the host, and the facts the file, line, sysctl and unit
operations will need (announced when each operation is declared: the file,
its directory, the matching lines, the key's value, the unit's state) are
read together, in one round trip, the first time one of them is needed.

pyinfra 3 itself caches nothing: each `host.get_fact` runs its command, so
a run that changes nothing would ask the same question many times, one
round trip each. Reuse is safe because only operations change the host
within a run: after one that ran a command (or failed), everything is read
again, one fact at a time, as pyinfra would. Facts read under another user
(`_sudo_user=...`) are kept apart from root's.
"""

import functools
import posixpath
from collections import defaultdict

from pyinfra import host as current_host
from pyinfra.api import FactBase, StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS
from pyinfra.api.facts import _handle_fact_kwargs, get_fact
from pyinfra.api.host import Host
from pyinfra.api.state import BaseStateCallback
from pyinfra.facts.files import Directory, File, FindInFile, Link, Sha1File, Sha256File
from pyinfra.facts.server import Sysctl
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util.files import adjust_regex

from deploys.lib import operations

UNIT_SUFFIXES = (".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path",
                 ".timer", ".slice", ".scope")


def _path_facts(on_path: tuple[type[FactBase], ...], on_parent: tuple[type[FactBase], ...] = (Directory, Link)):
    """What a file operation reads: these facts of its `dest` or `path`, and
    those of its parent directory (which it creates where missing)."""
    def facts_of(arguments: dict) -> list[tuple[type[FactBase], dict]]:
        path = arguments.get("dest") or arguments.get("path")
        if not isinstance(path, str):
            return []
        return ([(cls, {"path": path}) for cls in on_path]
                + [(cls, {"path": posixpath.dirname(path)}) for cls in on_parent])
    return facts_of


def _unit_facts(arguments: dict) -> list[tuple[type[FactBase], dict]]:
    """What systemd.service reads: the unit's state and whether it is enabled, named as it names them."""
    unit = arguments.get("service")
    if not isinstance(unit, str):
        return []
    unit = unit if unit.endswith(UNIT_SUFFIXES) else f"{unit}.service"
    selector = {name: arguments.get(name, default) for name, default in
                (("user_mode", False), ("machine", None), ("user_name", None))}
    return [(cls, {**selector, "services": [unit]}) for cls in (SystemdStatus, SystemdEnabled)]


def _line_facts(arguments: dict) -> list[tuple[type[FactBase], dict]]:
    """What files.line reads: the lines matching its pattern, asked as it asks."""
    pattern = adjust_regex(arguments["line"], arguments.get("escape_regex_characters", False))
    return [(FindInFile, {"path": arguments["path"], "pattern": pattern,
                          "interpolate_variables": arguments.get("interpolate_variables", False),
                          "extended_regex": arguments.get("extended_regex", False)})]


def _sysctl_facts(arguments: dict) -> list[tuple[type[FactBase], dict]]:
    """What server.sysctl reads: the key's current value."""
    return [(Sysctl, {"keys": [arguments["key"]]})]


# The operations whose facts are announced, and which facts those are.
ANNOUNCING = ((files, ("put", "template"), _path_facts((File, Sha1File))),
              (files, ("file",), _path_facts((File,))),
              (files, ("link",), _path_facts((Link,))),
              (files, ("directory",), _path_facts((Directory, Link), on_parent=())),
              (files, ("line",), _line_facts),
              (server, ("sysctl",), _sysctl_facts),
              (operations, ("secret_file",), _path_facts((File, Sha256File), on_parent=())),
              (systemd, ("service",), _unit_facts))
_MARK = "##fact-cache##"


class _HostFacts:
    def __init__(self):
        self.values: dict[tuple, object] = {}
        self.announced: dict[tuple, tuple[type[FactBase], dict]] = {}
        self.tried: set[tuple] = set()  # announced facts already in a bulk read
        self.changed = False  # announced facts are read together only until the host first changes
        self.last_op: str | None = None


_hosts: dict[str, _HostFacts] = defaultdict(_HostFacts)


def _key(state, host, cls, args, kwargs) -> tuple:
    fact_kwargs, global_kwargs = _handle_fact_kwargs(state, host, cls, args, kwargs)
    connector = {name: global_kwargs[name] for name in CONNECTOR_ARGUMENT_KEYS if name in global_kwargs}
    arguments = {name: value for name, value in fact_kwargs.items() if name != "self"}
    return cls, repr(sorted(arguments.items())), repr(sorted(connector.items()))


def announce(wanted: list[tuple[type[FactBase], dict]]) -> None:
    """These facts of the current host will be needed: read them with the other announced ones."""
    facts = _hosts[current_host.name]
    for cls, arguments in wanted:
        facts.announced[_key(current_host.state, current_host, cls, (), arguments)] = (cls, arguments)


def on_declare(module, name: str, hook) -> None:
    """Call hook(keyword arguments, operation meta) as each `module.name`
    operation is declared: how the deploys' helpers watch operations (each hook once)."""
    operation = getattr(module, name)
    hooks = getattr(operation, "declare_hooks", None)
    if hooks is None:
        hooks = []

        @functools.wraps(operation)
        def declare(*args, **kwargs):
            meta = operation(*args, **kwargs)
            for each in hooks:
                each(kwargs, meta)
            return meta
        declare.declare_hooks = hooks
        setattr(module, name, declare)
    if hook not in hooks:
        hooks.append(hook)


@functools.cache
def _announcer(facts_of):
    """The declaration hook that announces the facts an operation will read (facts_of its keyword arguments)."""
    return lambda arguments, _meta: announce(facts_of(arguments))


def _read_announced(host: Host, facts: _HostFacts) -> None:
    """Every announced fact not read yet, by one shell script: each fact's own
    command, its output handed to the fact's own process(), as get_fact would."""
    wanted = [(key, cls(), kwargs) for key, (cls, kwargs) in facts.announced.items() if key not in facts.tried]
    facts.tried.update(key for key, _, _ in wanted)  # each once: one that fails here is read on its own
    script = []
    for number, (_, fact, kwargs) in enumerate(wanted):
        command = fact.command(**kwargs)  # some facts keep their arguments for process()
        raw = command.get_raw_value() if isinstance(command, StringCommand) else command
        script.append(f"echo '{_MARK} {number}'; ( {raw} ) 2>/dev/null; echo \"{_MARK} {number} $?\"")
    if not script:
        return
    # On stdin: as one command line, a hundred files' commands would exceed the kernel's limit.
    status, output = host.run_shell_command(StringCommand("sh"), _stdin="\n".join(script) + "\n",
                                            print_output=False, print_input=False)
    if not status:
        return  # each fact is then read on its own
    lines: dict[int, list[str]] = {}
    codes: dict[int, str] = {}
    current = None
    for line in output.stdout_lines:
        if line.startswith(_MARK):
            parts = line.split()
            if len(parts) == 2:
                current = int(parts[1])
                lines[current] = []
            else:
                codes[int(parts[1])], current = parts[2], None
        elif current is not None:
            lines[current].append(line)
    for number, (key, fact, _) in enumerate(wanted):
        if codes.get(number) == "0":
            try:
                facts.values[key] = fact.process(lines[number]) if lines[number] else fact.default()
            except Exception:  # noqa: BLE001 (read on its own later, where pyinfra reports it)
                continue


def _cached_get_fact(self: Host, cls, *args, **kwargs):
    if not isinstance(cls, type) or not issubclass(cls, FactBase):
        return get_fact(self.state, self, cls, args=args, kwargs=kwargs)
    facts = _hosts[self.name]
    key = _key(self.state, self, cls, args, kwargs)
    if key in facts.announced and key not in facts.tried and not facts.changed:
        _read_announced(self, facts)
    if key not in facts.values:
        facts.values[key] = get_fact(self.state, self, cls, args=args, kwargs=kwargs)
    return facts.values[key]


class _ForgetOnChange(BaseStateCallback):
    """Before each operation: if the one before it on this host ran a command or failed, forget what was read."""

    @staticmethod
    def operation_host_start(state, host, op_hash):
        facts = _hosts[host.name]
        if facts.last_op is not None:
            meta = state.get_op_data_for_host(host, facts.last_op).operation_meta
            if not meta.is_complete() or meta.did_change() or not meta.did_succeed():
                facts.values.clear()
                facts.changed = True
        facts.last_op = op_hash


def install(state) -> None:
    """Route every host.get_fact of this run through the cache, and have the
    file operations announce their files; call it before the deploys are included."""
    if not any(isinstance(handler, _ForgetOnChange) for handler in state.callback_handlers):
        state.add_callback_handler(_ForgetOnChange())
        Host.get_fact = _cached_get_fact
        for module, names, facts_of in ANNOUNCING:
            for name in names:
                on_declare(module, name, _announcer(facts_of))
