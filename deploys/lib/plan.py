"""What a run of deploys/site.py would change, read from the host without
changing it. deploys/plan.py has pyinfra declare the site's operations
(`--dry`: none runs), watched as they are declared (`watch`); `plan_host`
then asks each, in order, for the commands it would run (facts: read-only),
and sorts every operation that would run:

- "changes": operations that would run on the host as it is now, each with
  its kind (file, package, user, unit, other) and the commands it would run;
- "files": each managed file whose content differs from what the deploy
  writes, with a unified diff (a secret file's values are masked);
- "follows": operations that run only because of the changes before them
  (an owed restart or reload, deploys/lib/owed.py; a check after a restart):
  listed apart, as their outcome is known only once those changes are made;
- "unknown": operations whose condition could not be evaluated, and why.

An operation's `_if` is evaluated at most twice: on the host as it is (every
did_change() False, work owed as /var/lib/pyinfra-done says), then, if that
says no, as the host would be after the changes planned before it
(did_change() True for them, and work owed for the files they write).
"""

import atexit
import difflib
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from pyinfra import host, state
from pyinfra.api import FileUploadCommand, StringCommand
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import FileContents, Sha256File
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.apt import APT_UPDATE_FILENAME

from deploys.lib import fact_cache, operations
from deploys.lib.owed import RECORDS, WRITES, WorkOwed
from deploys.lib.templates import render
from deploys.lib.validated import STAGING_DIR

MASK = "********"
# apt.packages(update=True, cache_time=...) refreshes apt's lists once they are older than cache_time: by
# itself that changes nothing the deploys manage, so a host is not "changed" every day for it.
LIST_REFRESH = {"apt-get update", f"touch {APT_UPDATE_FILENAME}"}
SETTING = re.compile(r"^\s*([A-Za-z_][\w.-]*)(\s*=\s*|\s+)(.*)$")  # KEY=value (.env) or key value (redis.conf)


@dataclass
class Declared:
    """What an operation was declared to manage: its kind, and for a file its
    path on the host and the content the deploy writes there."""
    kind: str
    path: str | None = None
    content: bytes | None = None
    secret: bool = False


def _template_content(arguments: dict) -> bytes:
    return render(arguments["src"], **{name: value for name, value in arguments.items() if name != "src"}).encode()


def _put_content(arguments: dict) -> bytes:
    src = arguments["src"]
    return src.getvalue().encode() if isinstance(src, StringIO) else Path(state.cwd or ".", src).read_bytes()


def _live(path: str) -> str:
    """Where a file goes live: one staged for its checker (deploys/lib/validated.py) replaces the live file."""
    return path[len(STAGING_DIR):] if path.startswith(f"{STAGING_DIR}/") else path


# The operations the plan names the kind of, and what each manages, read from its arguments.
WATCHED = ((files, "template", lambda a: Declared("file", _live(a["dest"]), _template_content(a))),
           (files, "put", lambda a: Declared("file", a["dest"], _put_content(a))),
           (operations, "secret_file", lambda a: Declared("file", a["dest"], a["content"].encode(), secret=True)),
           (files, "link", lambda a: Declared("file", a["path"])),
           (files, "file", lambda a: Declared("file", a["path"])),
           (files, "directory", lambda a: Declared("file", a["path"])),
           (apt, "packages", lambda a: Declared("package")),
           (server, "user", lambda a: Declared("user")),
           (systemd, "service", lambda a: Declared("unit")))

_declared: dict[str, dict[str, Declared]] = {}  # host name -> operation hash -> what it manages
_plans: dict[str, dict] = {}  # host name -> its plan


@functools.cache
def _recorder(declared_by):
    """The declaration hook that records what an operation manages (declared_by its keyword arguments)."""
    def record_declared(arguments: dict, meta) -> None:
        declared = declared_by(arguments)
        _declared.setdefault(host.name, {})[meta._hash] = declared
        if declared.content is not None:  # read with the other announced facts, in one round trip
            fact_cache.announce([(Sha256File, {"path": declared.path})])
    return record_declared


_assumed: dict[str, tuple[set[str], set[str]]] = {}  # host name -> (operations changed, files written)


def _writes_under(written: set[str], roots: tuple[str, ...]) -> bool:
    return any(path == root.rstrip("/") or path.startswith(root.rstrip("/") + "/")
               for path in written for root in roots)


def _assuming(did_change, get_fact):
    """did_change() and get_fact, answering as _assumed says for a host while one of its conditions is evaluated."""
    @functools.wraps(did_change)
    def assumed_did_change(meta: OperationMeta) -> bool:
        return meta._hash in _assumed[host.name][0] if host.name in _assumed else did_change(meta)

    @functools.wraps(get_fact)
    def assumed_get_fact(self: Host, cls, *args, **kwargs):
        value = get_fact(self, cls, *args, **kwargs)
        if cls is WorkOwed and self.name in _assumed:
            return value or _writes_under(_assumed[self.name][1], kwargs["paths"])
        return value

    assumed_did_change.assuming = True
    return assumed_did_change, assumed_get_fact


def watch() -> None:
    """Record what each watched operation manages as it is declared, and let
    conditions be evaluated as if (`_holds`); call before the deploys are included."""
    for module, name, declared_by in WATCHED:
        fact_cache.on_declare(module, name, _recorder(declared_by))
    if not getattr(OperationMeta.did_change, "assuming", False):
        OperationMeta.did_change, Host.get_fact = _assuming(OperationMeta.did_change, Host.get_fact)


def _holds(condition, changed: set[str], written: set[str]) -> bool:
    """Whether condition holds as if the operations in `changed` did change (the
    others did not), and work stamped for files under `written` is owed."""
    _assumed[host.name] = (changed, written)
    try:
        return all(each() for each in (condition if isinstance(condition, list) else [condition]))
    finally:
        del _assumed[host.name]


def _shown(command) -> str:
    if isinstance(command, FileUploadCommand):
        return f"upload {command.dest}"
    if isinstance(command, StringCommand):
        return command.get_masked_value()
    return repr(command)


def _masked(lines: list[str], other: list[str], tag: str) -> list[str]:
    """A secret file's lines with every value hidden; a setting whose value
    differs from its value in `other` is tagged, so the diff still shows it."""
    theirs = {match[1]: match[3] for line in other if (match := SETTING.match(line))}
    shown = []
    for line in lines:
        match = SETTING.match(line)
        if match:
            shown.append(f"{match[1]}{match[2]}{MASK}" + ("" if theirs.get(match[1]) == match[3] else f"  ({tag})"))
        else:  # a comment or a blank line is shown; anything else might be a secret
            shown.append(line if not line.strip() or line.lstrip().startswith("#") else MASK)
    return shown


def _diff(declared: Declared, on_host: list[str] | None) -> str:
    try:
        wanted = declared.content.decode().splitlines()
    except UnicodeDecodeError:
        return f"(binary, {len(declared.content)} bytes)"
    current = on_host or []
    if declared.secret:
        current, wanted = _masked(current, wanted, "the host's value"), _masked(wanted, current, "the new value")
    return "\n".join(difflib.unified_diff(current, wanted, f"{declared.path} (on the host)",
                                          f"{declared.path} (what the deploy writes)", lineterm=""))


def plan_host() -> dict:
    """The current host's plan, from the operations the deploys declared for it."""
    declared = _declared.get(host.name, {})
    ops = state.ops[host]
    plan: dict[str, list] = {"changes": [], "files": [], "follows": [], "unknown": []}
    changed: set[str] = set()
    written: set[str] = set()
    for op_hash in (op_hash for op_hash in state.get_op_order() if op_hash in ops):
        data = ops[op_hash]
        name = " / ".join(sorted(state.get_op_meta(op_hash).names))
        what = declared.get(op_hash, Declared("other"))
        condition = data.global_arguments.get("_if")
        try:
            now = not condition or _holds(condition, set(), set())
            runs = now or _holds(condition, changed, written)
        except Exception as error:  # noqa: BLE001 (the plan cannot tell, and says why)
            plan["unknown"].append({"name": name, "why": f"{type(error).__name__}: {error}"})
            continue
        if not runs:
            continue
        wanted = None if what.content is None else hashlib.sha256(what.content).hexdigest()
        differs = bool(wanted) and host.get_fact(Sha256File, path=what.path) != wanted
        if differs:
            written.add(what.path)
            plan["files"].append({"path": what.path, "name": name,
                                  "diff": _diff(what, host.get_fact(FileContents, path=what.path))})
        commands = [_shown(command) for command in data.command_generator()]  # none: it has nothing to do
        if not set(commands) - LIST_REFRESH or (host.name, op_hash) in RECORDS:
            continue
        changed.add(op_hash)
        written.update([what.path] if what.path else WRITES.get((host.name, op_hash), ()))
        if not differs:  # a file's diff says what its operation would do
            plan["changes" if now else "follows"].append({"name": name, "kind": what.kind, "commands": commands})
    return plan


def _write(path: str) -> None:
    """Every host's plan, null for a host whose plan could not be made (unreachable, a deploy error)."""
    Path(path).write_text(json.dumps({each.name: _plans.get(each.name) for each in state.inventory}, indent=1))


def record(path: str) -> None:
    """Add the current host's plan to those written to path (JSON, {host name: plan}) when pyinfra exits."""
    if not _plans:
        atexit.register(_write, path)
    _plans[host.name] = plan_host()
