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
