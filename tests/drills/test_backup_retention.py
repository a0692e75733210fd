"""The backup job deletes backups older than backup_retention_days, and only
those: aged copies are planted beside the real ones, then the job runs."""

import pytest

from deploys.lib.app_runtime import APP


@pytest.mark.proves("S4.3-retention")
def test_the_backup_job_deletes_backups_past_retention_and_keeps_the_rest(host, target):
    backup_dir, days, db = target.data["backup_dir"], target.data["backup_retention_days"], target.data["db_name"]
    planted = {f"{backup_dir}/{db}-20000101T0000{age:02d}Z.dump.age": age for age in (days + 1, days - 1)}
    before = set(host.check_output("ls -1 %s", backup_dir).split())
    try:
        for path, age in planted.items():
            host.check_output("touch -d %s %s", f"{age} days ago", path)
        host.check_output("systemctl start %s-backup.service", APP)
        left = {path: host.file(path).exists for path in planted}
        assert left == {path: age < days for path, age in planted.items()}, left
    finally:
        made = [f"{backup_dir}/{name}" for name in set(host.check_output("ls -1 %s", backup_dir).split()) - before]
        for path in [*planted, *made]:
            host.run("rm -f %s", path)
