"""The operator's side of the backups: local copies and their checksums."""

import hashlib
from pathlib import Path

from pyinfra import host


def local_dir() -> Path:
    """Where this host's pulled backups live on the operator's machine (0700)."""
    path = Path(host.data.local_backup_dir) / host.name
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def verify(dump: Path) -> None:
    """Raise unless dump matches the checksum the server recorded beside it."""
    checksum = dump.with_name(dump.name + ".sha256")
    if not checksum.is_file():
        raise RuntimeError(f"{checksum} is missing: pull the backup again")
    recorded = checksum.read_text().split()[0]
    if hashlib.sha256(dump.read_bytes()).hexdigest() != recorded:
        raise RuntimeError(f"{dump} does not match its checksum: pull it again")


def chosen_backup(name: str | None = None) -> Path:
    """The pulled backup restore.py restores: `name` from local_dir(), else the
    newest of this host's database there (the names' UTC timestamps sort in time order)."""
    backups = local_dir()
    if name:
        dump = backups / name
    else:
        dumps = sorted(backups.glob(f"{host.data.db_name}-*.dump.age"))
        if not dumps:
            raise RuntimeError(f"no backups of {host.data.db_name} in {backups}: run deploys/pull_backups.py first")
        dump = dumps[-1]
    if not dump.is_file():
        raise RuntimeError(f"{dump} does not exist")
    return dump
