"""The operator's side of the backups: the pulled copies, their checksums and
manifests, and which one a restore may take.

A backup is three files, written by the server's backup script
(templates/usr/local/sbin/insta-connect-demo-backup.j2):

    <db>-<UTC stamp>.dump.age          the encrypted pg_dump
    <db>-<UTC stamp>.manifest.json     host, app, database, database cluster, time,
                                       migrations and rows per table, read from the dump
    <db>-<UTC stamp>.dump.age.sha256   the checksums of both, written last

The rule restore.py applies, in one sentence: with no backup named, it takes
the newest backup that was not taken from the database cluster it would
replace (a rebuilt host's own backups never win), and only if it holds at
least as many rows as that database (in the tables backups keep); anything
else must be named and confirmed.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pyinfra import host

DUMP_SUFFIX = ".dump.age"
MANIFEST_SUFFIX = ".manifest.json"
CHECKSUM_SUFFIX = DUMP_SUFFIX + ".sha256"


class BackupError(Exception):
    """A backup that must not be restored, or no backup to restore; the message says why."""


def local_dir() -> Path:
    """Where this host's pulled backups live on the operator's machine (0700),
    named by the host's inventory name: a rebuilt host at a new address keeps them."""
    path = Path(host.data.local_backup_dir) / host.name
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def checksum_file(dump: Path) -> Path:
    return dump.with_name(dump.name.removesuffix(DUMP_SUFFIX) + CHECKSUM_SUFFIX)


def manifest_file(dump: Path) -> Path:
    return dump.with_name(dump.name.removesuffix(DUMP_SUFFIX) + MANIFEST_SUFFIX)


def verify(dump: Path, *, manifest_only: bool = False) -> None:
    """Raise BackupError unless the dump (or only its manifest) and the manifest
    match the checksums the server recorded for them."""
    checksums = checksum_file(dump)
    if not checksums.is_file():
        raise BackupError(f"{checksums} is missing: pull the backup again")
    recorded = dict(reversed(line.split(maxsplit=1)) for line in checksums.read_text().splitlines() if line.strip())
    for part in [manifest_file(dump)] + ([] if manifest_only else [dump]):
        if part.name not in recorded:
            raise BackupError(f"{checksums} has no checksum for {part.name}: not a backup made by "
                              "deploys/backups.py, or made before backups carried a manifest")
        if not part.is_file():
            raise BackupError(f"{part} is missing: pull the backup again")
        if hashlib.sha256(part.read_bytes()).hexdigest() != recorded[part.name].strip():
            raise BackupError(f"{part} does not match its checksum: pull it again")


@dataclass(frozen=True)
class Backup:
    dump: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.dump.name

    @property
    def rows(self) -> dict[str, int]:
        return self.manifest["rows"]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass(frozen=True)
class LiveDatabase:
    """The database a restore would replace: its cluster's system identifier and rows per table."""
    cluster: str
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def rows_in(self, tables) -> int:
        """Its rows in these tables only: those a backup keeps (sessions, say, it does not)."""
        return sum(self.rows.get(table, 0) for table in tables)


def read_backup(dump: Path) -> Backup:
    """The backup whose dump is `dump`, its manifest checked against its checksum."""
    if not dump.is_file():
        raise BackupError(f"{dump} does not exist")
    verify(dump, manifest_only=True)
    try:
        manifest = json.loads(manifest_file(dump).read_text())
        assert {"host", "app", "database", "cluster", "taken_at", "migrations", "rows"} <= manifest.keys()
    except (ValueError, AssertionError):
        raise BackupError(f"{manifest_file(dump)} is not a backup manifest") from None
    return Backup(dump, manifest)


def pulled(directory: Path) -> list[Backup]:
    """Every complete backup in directory (its checksum file is written last), oldest first."""
    dumps = [checksums.with_name(checksums.name.removesuffix(".sha256"))
             for checksums in directory.glob(f"*{CHECKSUM_SUFFIX}")]
    return sorted((read_backup(dump) for dump in dumps), key=lambda backup: backup.manifest["taken_at"])


def check_restorable(backup: Backup, app: str, database: str, known_migrations: set[int]) -> None:
    """Raise BackupError unless the backup is of this app's database and its
    schema is one this code's migrations know."""
    found = (backup.manifest["app"], backup.manifest["database"])
    if found != (app, database):
        raise BackupError(f"{backup.name} is a backup of app {found[0]!r}, database {found[1]!r}, "
                          f"not of {app!r}, {database!r}: refusing to restore it here")
    unknown = sorted(set(backup.manifest["migrations"]) - known_migrations)
    if unknown:
        raise BackupError(f"{backup.name} has migrations {unknown} that this code does not have: it was taken "
                          "by a newer release. Deploy that release (deploys/site.py), then restore")


def unsafe_because(backup: Backup, live: LiveDatabase) -> str | None:
    """Why the rule would not pick this backup by itself, or None if it would."""
    if backup.manifest["cluster"] == live.cluster:
        return (f"{backup.name} was taken from the database it would replace (cluster {live.cluster}): "
                "restoring it rolls that database back")
    if backup.total_rows < live.rows_in(backup.rows):
        return (f"{backup.name} holds fewer rows ({backup.total_rows}) than the database it would "
                f"replace ({live.rows_in(backup.rows)})")
    return None


def choose(backups: list[Backup], live: LiveDatabase, name: str | None, confirmed: bool) -> Backup:
    """The backup to restore: `name`, or by the rule in this module's docstring.
    A named backup the rule would not pick needs `confirmed`."""
    if name:
        matching = [backup for backup in backups if backup.name == name]
        if not matching:
            raise BackupError(f"no complete backup named {name} (dump, manifest and checksums) in the pulled "
                              "backups: run deploys/pull_backups.py, or check the name")
        reason = unsafe_because(matching[0], live)
        if reason and not confirmed:
            raise BackupError(f"{reason}. If that is what you want, add --data restore_confirmed=true")
        return matching[0]
    if not backups:
        raise BackupError("no backups pulled for this host: run deploys/pull_backups.py first")
    earlier = [backup for backup in backups if backup.manifest["cluster"] != live.cluster]
    if not earlier:
        raise BackupError(f"every pulled backup was taken from the database it would replace (cluster "
                          f"{live.cluster}): to roll it back, name one with --data restore_backup=NAME "
                          "and add --data restore_confirmed=true")
    reason = unsafe_because(earlier[-1], live)
    if reason:
        raise BackupError(f"{reason}. To restore it anyway, name it with --data restore_backup="
                          f"{earlier[-1].name} and add --data restore_confirmed=true")
    return earlier[-1]


def describe(backup: Backup, live: LiveDatabase, host_name: str) -> str:
    """What a restore will do, for the operator to read before anything is touched."""
    manifest = backup.manifest
    origin = "the database it replaces: a rollback" if manifest["cluster"] == live.cluster else "an earlier database"
    tables = sorted(set(backup.rows) | set(live.rows))
    width = max(len(table) for table in tables + ["total"])
    lines = [f"--> Restore plan for {host_name}",
             f"    backup   {backup.dump}",
             f"    taken    {manifest['taken_at']} on {manifest['host']}, database cluster {manifest['cluster']} "
             f"({origin})",
             f"    schema   migrations {manifest['migrations']}",
             f"    {'rows'.ljust(width)}  {'backup':>9}  {'now':>9}"]
    lines += [f"    {table.ljust(width)}  {backup.rows.get(table, '-'):>9}  {live.rows.get(table, '-'):>9}"
              for table in tables]
    lines.append(f"    {'total'.ljust(width)}  {backup.total_rows:>9}  {live.total_rows:>9}")
    return "\n".join(lines)


def accept_pulled(dump: Path, directory: Path) -> None:
    """Move a fetched backup into directory once it matches its checksums; the
    checksum file last, so a backup is never seen there incomplete."""
    verify(dump)
    for part in (dump, manifest_file(dump), checksum_file(dump)):
        part.rename(directory / part.name)
