"""The sandbox's own generated secrets, in `.sandbox/secrets.env` (mode 0600).

Existing values are kept across `up`, so a rebuilt host gets the same secrets
and an encrypted backup from an earlier host still restores.
"""

import functools
import secrets as random
import subprocess
from pathlib import Path

from app.config import SUPPLIED, new_value

BACKUP_KEY = "backup-key.txt"  # the age identity backups are encrypted to; never leaves this machine


def _token() -> str:
    return random.token_urlsafe(32)


# The app's supplied variables (app/config.py), and the deploy's own two.
GENERATORS = {"DB_PASSWORD": _token, "REDIS_PASSWORD": _token,
              **{name: functools.partial(new_value, name) for name in SUPPLIED}}


def read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def ensure(state_dir: Path, state: dict) -> Path:
    path = state_dir / "secrets.env"
    values = read(path)
    for name, generate in GENERATORS.items():
        values.setdefault(name, generate())
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("# Sandbox secrets, generated; never commit.\n"
                    + "".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def ensure_backup_key(state_dir: Path) -> Path:
    """The sandbox's backup key pair; kept across `up`, like the secrets, so old backups still decrypt."""
    key = state_dir / BACKUP_KEY
    if not key.exists():
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    key.chmod(0o600)
    return key


def backup_recipient(state_dir: Path) -> str:
    return subprocess.run(["age-keygen", "-y", str(state_dir / BACKUP_KEY)], check=True,
                          capture_output=True, text=True).stdout.strip()
