"""Copy the newest backups off the server to the operator's machine:

    pyinfra -y $INVENTORY deploys/pull_backups.py

Backups kept only on the VPS die with it. This copies the newest
pull_backups_count complete backups (dump, manifest and checksums) into
local_backup_dir/<inventory name>/ and deletes none there. Each is fetched
into an .incoming/ folder and moved beside the others only once it matches
its checksums, so a pull that stops half-way (or runs from cron during a
restore) never leaves a partial backup for restore.py to find. They stay
encrypted: only the operator's age key (backup_identity_file) opens them.
"""

from pyinfra import host
from pyinfra.facts.files import FindFiles
from pyinfra.operations import files, python

from deploys.lib.pulled_backups import CHECKSUM_SUFFIX, DUMP_SUFFIX, MANIFEST_SUFFIX, accept_pulled, local_dir


def backup_names(suffix: str) -> set[str]:
    found = host.get_fact(FindFiles, path=host.data.backup_dir, fname=f"*{suffix}", maxdepth=1)
    return {path.rsplit("/", 1)[1].removesuffix(suffix) for path in found}


dest = local_dir()
incoming = dest / ".incoming"
# A backup is complete on the server once its checksum file exists (written last).
complete = sorted(backup_names(CHECKSUM_SUFFIX) & backup_names(MANIFEST_SUFFIX))
for name in complete[-host.data.pull_backups_count:]:
    if (dest / f"{name}{CHECKSUM_SUFFIX}").exists():
        continue
    for suffix in (DUMP_SUFFIX, MANIFEST_SUFFIX, CHECKSUM_SUFFIX):
        files.get(
            name=f"Copy {name}{suffix} to {incoming}",
            src=f"{host.data.backup_dir}/{name}{suffix}",
            dest=str(incoming / f"{name}{suffix}"),
            create_local_dir=True,
        )
    python.call(
        name=f"Check {name} against its checksums and add it to {dest}",
        function=accept_pulled,
        dump=incoming / f"{name}{DUMP_SUFFIX}",
        directory=dest,
    )
