"""Restore a backup (document section 9.2, automated):

    pyinfra -y inventory.py deploys/pull_backups.py     # if the copy is not here yet
    pyinfra -y inventory.py deploys/restore.py [--data restore_backup=NAME.dump.age]

Stops the app's timers, then the app and any job or backup that is running,
restores the given (default: newest) backup from local_backup_dir/<host>/,
runs the migrations, starts the app and its timers again and checks /health.
If the dump cannot be uploaded or pg_restore fails, the database is as it was
(one transaction): the app and its timers are started again on it, /health is
checked, and the deploy then fails, saying so. The dump is decrypted here, on
the operator's machine, with backup_identity_file: the private key never goes
to the server. The decrypted dump exists on the server only while pg_restore
reads it, in a root-only file removed straight after, whether the restore
worked or not.

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

from deploys.lib.app import app_command, health_check_command
from deploys.lib.backups import chosen_backup, verify
from deploys.lib.facts import AppUnitFiles

APP = host.data.app_name
REMOTE_DUMP = "/root/restore.dump"


def decrypt(dump: Path) -> Path:
    identity = host.data.backup_identity_file
    if not identity or not Path(identity).is_file():
        raise DeployError("set backup_identity_file to the operator's age key to decrypt backups")
    try:
        verify(dump)
    except RuntimeError as error:
        raise DeployError(str(error)) from None
    workdir = Path(tempfile.mkdtemp(prefix="restore-"))  # 0700
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    plain = workdir / dump.name.removesuffix(".age")
    subprocess.run(["age", "--decrypt", "-i", identity, "-o", str(plain), str(dump)], check=True)
    return plain


def switch(units: list[str], running: bool) -> None:
    for unit in units:
        systemd.service(
            name=f"{'Start' if running else 'Stop'} {unit}",
            service=unit,
            running=running,
        )


try:
    backup = chosen_backup(host.data.restore_backup)
except RuntimeError as error:
    raise DeployError(str(error)) from None
units = host.get_fact(AppUnitFiles, app=APP)
if f"{APP}.service" not in units:
    raise DeployError(f"{host.name} has no {APP}.service: deploy the host (deploys/site.py) before restoring")
timers = [unit for unit in units if unit.endswith(".timer")]
services = [unit for unit in units if unit.endswith(".service")]
plain_dump = decrypt(backup)
print(f"--> Restoring {backup} to {host.name}")
# Timers first, so that none starts a job once its service is stopped.
switch(timers + services, running=False)
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
switch([f"{APP}.service", *timers], running=True)
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
