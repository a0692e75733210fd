"""deploys/logs.py, as the host shows it. Read-only: safe against production."""

import pytest

from deploys.lib.app_runtime import APP


@pytest.mark.proves("S2.2-logs-dir", "S7.3-tail-combined-log", "S12.1-tail-error-log")
def test_app_writes_dated_logs_owned_by_the_service_user(host, target):
    logs, user = f"{target.data['app_dir']}/logs", target.data["app_user"]
    names = host.check_output("ls %s", logs).split()
    assert any(n.startswith("combined-") and n.endswith(".log") for n in names), names
    assert all(n.startswith(("combined-", "error-")) for n in names), names
    owners = host.check_output("stat -c %%U:%%G %s/*.log", logs).split()
    assert set(owners) == {f"{user}:{user}"}
    # The day's error log is there to tail before its first error (the document's section 12.1).
    newest_combined = max(n for n in names if n.startswith("combined-"))
    assert newest_combined.replace("combined-", "error-") in names, names


def test_log_retention(host, target):
    env = host.check_output("grep ^LOG_RETENTION_DAYS= %s/.env", target.data["app_dir"])
    assert env == f"LOG_RETENTION_DAYS={target.data['log_retention_days']}"
    rule = host.check_output("systemd-tmpfiles --cat-config | grep -F ' %s/logs '", target.data["app_dir"])
    assert rule.split()[-1] == f"{target.data['log_retention_days']}d"
    stale = host.check_output("find %s/logs -name '*.log' -mtime +%s", target.data["app_dir"],
                              str(target.data["log_retention_days"]))
    assert stale == ""


def test_journal_is_persistent_and_keeps_the_units_output(host, target):
    assert host.file("/var/log/journal").is_directory
    lines = host.check_output("journalctl -u %s.service -o cat -n 5 --no-pager", APP)
    assert lines.strip(), "the journal has no output of the app's service"
