"""Copy the newest backups off the server to the operator's machine:

    pyinfra -y inventory.py deploys/pull_backups.py

Backups kept only on the VPS die with it. This keeps copies of the newest
pull_backups_count encrypted dumps, with their checksums, in
local_backup_dir/<host>/, and verifies them. They stay encrypted: only the
operator's age key (backup_identity_file) opens them.
"""

from pyinfra import host
from pyinfra.facts.files import FindFiles
from pyinfra.operations import files, python

from deploys.lib.backups import local_dir, verify

dest = local_dir()
dumps = sorted(host.get_fact(FindFiles, path=host.data.backup_dir, fname="*.dump.age", maxdepth=1))
for remote in dumps[-host.data.pull_backups_count:]:
    name = remote.rsplit("/", 1)[1]
    for suffix in ("", ".sha256"):
        files.get(
            name=f"Copy {name}{suffix} to {dest}",
            src=remote + suffix,
            dest=str(dest / (name + suffix)),
        )
    python.call(
        name=f"Verify {name} against its checksum",
        function=verify,
        dump=dest / name,
    )
