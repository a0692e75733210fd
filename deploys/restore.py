"""Restore a backup (document section 9.2, automated):

    pyinfra -y $INVENTORY deploys/pull_backups.py     # if the copy is not here yet
    pyinfra -y $INVENTORY deploys/restore.py [--data restore_backup=NAME.dump.age [--data restore_confirmed=true]]

Which backup: the rule in deploys/lib/pulled_backups.py. With no restore_backup it
takes the newest pulled backup that was not taken from the database it
would replace, and only if that backup holds at least as many rows; so a
rebuilt host's own first backup, pulled after the rebuild, never wins. A
named backup the rule would not pick (a deliberate rollback) also needs
restore_confirmed=true. Before anything on the host is touched it prints the
plan (host, time, rows per table in the backup and now) and refuses a backup
that fails its checksum, is of another app or database, was taken by a newer
release's schema, or does not decrypt with backup_identity_file.

Then it stops the app's timers, then the app and any job or backup that is
running, restores, runs the migrations, starts the app and its timers again
and checks /health. If the dump cannot be uploaded or pg_restore fails, the
database is as it was (one transaction): the app and its timers are started
again on it, /health is checked, and the deploy then fails, saying so. The
dump is decrypted here, on the operator's machine: the private key never
goes to the server. The decrypted dump exists on the server only while
pg_restore reads it, in a root-only file removed straight after, whether the
restore worked or not.

The units are the app's unit files on the host (<app>.service, <app>-*.service,
<app>-*.timer), so this stops whatever deploys/services.py and backups.py
installed, without a list of its own to keep in step with them.
"""

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, server, systemd

from app.migrate import discover
from deploys.lib.app_runtime import APP, app_command, health_check_command
from deploys.lib.pulled_backups import (Backup, BackupError, LiveDatabase, check_restorable, choose, describe, local_dir,
                                 pulled, verify)
from deploys.lib.facts import AppUnitFiles, PostgresDatabaseRows
from deploys.lib.postgres_plan import AS_POSTGRES

REMOTE_DUMP = "/root/restore.dump"


def decrypt(backup: Backup) -> Path:
    """The dump, decrypted into a private temporary directory."""
    identity = host.data.backup_identity_file
    if not identity or not Path(identity).is_file():
        raise BackupError("set backup_identity_file to the operator's age key to decrypt backups")
    workdir = Path(tempfile.mkdtemp(prefix="restore-"))  # 0700
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    plain = workdir / backup.name.removesuffix(".age")
    age = subprocess.run(["age", "--decrypt", "-i", identity, "-o", str(plain), str(backup.dump)],
                         capture_output=True, text=True)
    if age.returncode != 0:
        raise BackupError(f"{backup.name} does not decrypt with {identity}: {age.stderr.strip()}")
    return plain


units = host.get_fact(AppUnitFiles, app=APP)
if f"{APP}.service" not in units:
    raise DeployError(f"{host.name} has no {APP}.service: deploy the host (deploys/site.py) before restoring")
timers = [unit for unit in units if unit.endswith(".timer")]
services = [unit for unit in units if unit.endswith(".service")]
live = LiveDatabase(**host.get_fact(PostgresDatabaseRows, database=host.data.db_name, **AS_POSTGRES))
try:
    backup = choose(pulled(local_dir()), live, host.data.restore_backup, host.data.restore_confirmed)
    print(describe(backup, live, host.name))
    check_restorable(backup, APP, host.data.db_name, {migration.version for migration in discover()})
    verify(backup.dump)
    plain_dump = decrypt(backup)
except BackupError as error:
    raise DeployError(f"{host.name}: nothing was restored or changed: {error}") from None
print(f"--> Restoring {backup.dump} to {host.name}")
# Timers first, so that none starts a job once its service is stopped. Stopped
# unconditionally: a job or backup still starting (a oneshot's "activating")
# does not count as running in pyinfra's systemd facts.
server.shell(
    name=f"Stop {APP}'s timers, then its services, any job or backup in progress included",
    commands=[f"systemctl stop {unit}" for unit in timers + services],
)
# From here on a failure must not leave the app down: the steps that may fail
# are let through, the app comes back either way, and the last step fails.
uploaded = files.put(
    name=f"Upload the decrypted dump, root-only, for the restore ({REMOTE_DUMP})",
    src=str(plain_dump),
    dest=REMOTE_DUMP,
    user="root", group="root", mode="600",
    _ignore_errors=True,
)
restored = server.shell(
    name=f"Restore {backup.name} into {host.data.db_name} (then delete the dump)",
    commands=[f"cd / && setpriv --reuid=postgres --regid=postgres --clear-groups "
              f"pg_restore --clean --if-exists --single-transaction --exit-on-error "
              f"--dbname={host.data.db_name} < {REMOTE_DUMP}; status=$?; rm -f {REMOTE_DUMP}; exit $status"],
    _if=uploaded.did_succeed,
    _ignore_errors=True,
)


def restore_worked() -> bool:
    return uploaded.did_succeed() and restored.did_succeed()


server.shell(
    name="Run the database migrations",
    commands=[app_command("-m", "app.migrate")],
    _if=restore_worked,
)
for unit in (f"{APP}.service", *timers):
    systemd.service(
        name=f"Start {unit}",
        service=unit,
        running=True,
    )
server.shell(
    name=f"Check that {APP} answers /health",
    commands=[health_check_command()],
)
server.shell(
    name="Fail the restore loudly if it did not happen",
    commands=[f"echo 'RESTORE FAILED: {backup.name} was not restored (see the error above). "
              f"{host.data.db_name} is unchanged; {APP} and its timers run again on it.' >&2; exit 1"],
    _if=lambda: not restore_worked(),
)
