"""Apply app/migrations/NNNN_name.sql in order: `python -m app.migrate`.

Each file runs in its own transaction and is recorded in schema_migrations
with a checksum.  A session-level advisory lock serialises concurrent runs,
so two at once are safe and the second finds nothing to do.  An applied file
whose content changed afterwards stops the run: migrations are append-only.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from app.config import ADMIN, config_or_exit
from app.db import connect

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
NAME_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
ADVISORY_LOCK_KEY = 7_342_118_001  # any constant shared by every run of this app


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def __str__(self) -> str:
        return f"{self.version:04d}_{self.name}"


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = NAME_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: name must look like 0001_description.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError("two migration files share a version number")
    return migrations


def migrate(conn, migrations: list[Migration]) -> list[Migration]:
    """Apply what is missing; `conn` must be in autocommit mode."""
    applied_now = []
    conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    try:
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(f"{migration} was changed after it was applied")
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied_now.append(migration)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied_now


def main() -> int:
    config = config_or_exit(ADMIN)
    try:
        with connect(config, "insta-connect-migrate", autocommit=True) as conn:
            applied = migrate(conn, discover())
    except Exception as exc:  # one line for the operator, not a traceback
        print(f"migrate error: {type(exc).__name__}: {exc}".strip(), file=sys.stderr)
        return 1
    for migration in applied:
        print(f"applied {migration}")
    if not applied:
        print("database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
