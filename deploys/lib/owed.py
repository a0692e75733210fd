"""Work that changed files call for (migrations and a restart, a reload) stays
owed until it is done, even when the deploy that changed the files was
interrupted before doing it.

An operation's did_change() lasts one run: a deploy stopped between uploading
a file and restarting for it leaves a host whose next run finds the file
unchanged and skips the restart. So the host keeps the record: `mark_done`,
placed after the work, writes a stamp holding a fingerprint of the files the
work was done for, and runs only once that work succeeded; `owed` compares
the files' current fingerprint with the stamp. A new host, or one whose
stamp is missing, owes the work once.
"""

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.operations import server

from deploys.lib import fact_cache

STAMP_DIR = "/var/lib/pyinfra-done"
# (host name, operation hash) -> the paths a shell operation writes, where owed work depends on them:
# how `make plan` (deploys/lib/plan.py) knows that work follows it. File operations need no such note.
WRITES: dict[tuple[str, str], tuple[str, ...]] = {}
# (host name, operation hash) of each mark_done: `make plan` lists the work owed, not its record.
RECORDS: set[tuple[str, str]] = set()


def _fingerprint(paths: tuple[str, ...]) -> str:
    """Shell: one checksum over the regular files at or below paths, and the
    links there with their targets (a missing path adds nothing)."""
    where = " ".join(paths)
    return (f"{{ find {where} -type f -print0 2>/dev/null | sort -z | xargs -0r sha256sum; "
            f"find {where} -type l -printf '%p -> %l\\n' 2>/dev/null | sort; }} | sha256sum")


class WorkOwed(FactBase):
    """True unless the stamp holds the current fingerprint of paths."""

    def command(self, stamp, paths):
        return (f'if [ "$({_fingerprint(paths)})" = "$(cat {STAMP_DIR}/{stamp} 2>/dev/null)" ]; '
                "then echo done; else echo owed; fi")

    def process(self, output):
        return output[-1] == "owed"


def owed(stamp: str, paths: tuple[str, ...]) -> bool:
    """Call at execution time (inside `_if`), after the operations that write paths."""
    return host.get_fact(WorkOwed, stamp=stamp, paths=paths)


def mark_done(name: str, stamp: str, paths: tuple[str, ...]):
    """The operation that records the work for paths as done: put it after that work."""
    fact_cache.announce([(WorkOwed, {"stamp": stamp, "paths": paths})])
    new = f"{STAMP_DIR}/{stamp}.new"
    record = server.shell(
        name=name,
        commands=[f"mkdir -p {STAMP_DIR} && {_fingerprint(paths)} > {new} && mv -f {new} {STAMP_DIR}/{stamp}"],
        _if=lambda: owed(stamp, paths),
    )
    RECORDS.add((host.name, record._hash))
    return record


def forget(stamp: str) -> str:
    """Shell that makes the work recorded under stamp owed again, whatever its files say."""
    return f"rm -f {STAMP_DIR}/{stamp}"


def writes(operation, paths: tuple[str, ...]):
    """Note that a shell operation writes paths (some work owed depends on); returns the operation."""
    WRITES[host.name, operation._hash] = paths
    return operation


def after_change(name: str, stamp: str, paths: tuple[str, ...], commands: list[str]):
    """The action changed files call for (a reload, a restart, a rebuild):
    `commands` run once after any of paths changed, and stay owed until they
    succeed, so the next run makes up for one interrupted in between. A new
    host owes it once. Returns the action's operation."""
    action = server.shell(
        name=name,
        commands=commands,
        _if=lambda: owed(stamp, paths),
    )
    mark_done(f"Record: {name[0].lower()}{name[1:]}", stamp, paths)
    return action
