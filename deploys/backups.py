"""Backups (document sections 4.3, 9): a daily pg_dump at 01:00 UTC, encrypted
on the server to the operator's age public key, with a checksum, kept
backup_retention_days in backup_dir. pull_backups.py copies them off the
server; restore.py brings one back."""

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FindFiles
from pyinfra.operations import apt, files, systemd

from deploys.lib.app_runtime import APP
from deploys.lib.templates import template
from deploys.lib.units import install_units, schedule_timer

UNIT = f"{APP}-backup"

if not str(host.data.backup_recipient or "").startswith("age1"):
    raise DeployError(f"{host.name}: set backup_recipient to the operator's age public key (age1...); "
                      "see docs/operations.md, Backups")

apt.packages(
    name="Install age (encrypts the backups)",
    packages=["age"],
)
files.directory(
    name=f"Create {host.data.backup_dir} (root only, 0700)",
    path=host.data.backup_dir,
    user="root", group="root", mode="700",
)
template(
    name="Install the backup script",
    src="templates/usr/local/sbin/insta-connect-demo-backup.j2",
    dest=f"/usr/local/sbin/{UNIT}",
    mode="700",
)
install_units({
    f"{UNIT}.service": ("templates/etc/systemd/system/insta-connect-demo-backup.service.j2", {}),
    f"{UNIT}.timer": ("templates/etc/systemd/system/insta-connect-demo-job.timer.j2",
                      {"description": "encrypted database backup", "schedule": host.data.backup_schedule,
                       "persistent": True}),
})
schedule_timer(f"{UNIT}.timer")
# A new host has a backup from its first deploy on, not from the next 01:00.
systemd.service(
    name="Take a first backup (there is none yet)",
    service=f"{UNIT}.service",
    running=True,
    _if=lambda: not host.get_fact(FindFiles, path=host.data.backup_dir, fname="*.dump.age", maxdepth=1),
)
