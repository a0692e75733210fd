"""Restore a backup (document section 9.2, automated):

    pyinfra -y inventory.py deploys/pull_backups.py     # if the copy is not here yet
    pyinfra -y inventory.py deploys/restore.py [--data restore_backup=NAME.dump.age]

Stops the app and its jobs, restores the given (default: newest) backup from
local_backup_dir/<host>/, runs the migrations, starts everything again and
checks /health. The dump is decrypted here, on the operator's machine, with
backup_identity_file: the private key never goes to the server. The
decrypted dump exists on the server only while pg_restore reads it, in a
root-only file removed straight after, whether the restore worked or not.
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
from deploys.lib.backups import local_dir, verify

APP = host.data.app_name
SERVICES = [f"{APP}.service", *(f"{APP}-{job}.timer" for job in ("token-refresh", "webhook-processor", "backup"))]
JOBS = [f"{APP}-{job}.service" for job in ("token-refresh", "webhook-processor")]
REMOTE_DUMP = "/root/restore.dump"


def chosen_backup() -> Path:
    backups = local_dir()
    if host.data.restore_backup:
        dump = backups / host.data.restore_backup
    else:
        dumps = sorted(backups.glob("*.dump.age"))
        if not dumps:
            raise DeployError(f"no backups in {backups}: run deploys/pull_backups.py first")
        dump = dumps[-1]
    if not dump.is_file():
        raise DeployError(f"{dump} does not exist")
    return dump


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


backup = chosen_backup()
plain_dump = decrypt(backup)
print(f"--> Restoring {backup} to {host.name}")
switch(SERVICES + JOBS, running=False)
files.put(
    name=f"Upload the decrypted dump, root-only, for the restore ({REMOTE_DUMP})",
    src=str(plain_dump),
    dest=REMOTE_DUMP,
    user="root", group="root", mode="600",
)
server.shell(
    name=f"Restore {backup.name} into {host.data.db_name} (then delete the dump)",
    commands=[f"setpriv --reuid=postgres --regid=postgres --clear-groups "
              f"pg_restore --clean --if-exists --single-transaction --exit-on-error "
              f"--dbname={host.data.db_name} < {REMOTE_DUMP}; status=$?; rm -f {REMOTE_DUMP}; exit $status"],
)
server.shell(
    name="Run the database migrations",
    commands=[app_command("-m", "app.migrate")],
)
switch(SERVICES, running=True)
server.shell(
    name=f"Check that {APP} answers /health",
    commands=[health_check_command()],
)
