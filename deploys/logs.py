"""Logs (document section 7.3): app_dir/logs/combined-*.log and error-*.log,
owned by the service user and kept log_retention_days; the journal keeps the
units' output, persistently and within journal_max_use."""

from pyinfra import host

from deploys.lib.owed import after_change
from deploys.lib.templates import template

template(
    name=f"Keep app logs for {host.data.log_retention_days} days (systemd-tmpfiles)",
    src="templates/etc/tmpfiles.d/insta-connect-demo.conf.j2",
    dest="/etc/tmpfiles.d/insta-connect-demo.conf",
    mode="644",
)
JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/insta-connect-demo.conf"
template(
    name="Keep the journal persistent and bounded",
    src=f"templates{JOURNALD_DROP_IN}.j2",
    dest=JOURNALD_DROP_IN,
    mode="644",
    create_remote_dir=True,
)
after_change("Restart journald for its new settings", "journald-settings", (JOURNALD_DROP_IN,),
             ["systemctl restart systemd-journald"])
