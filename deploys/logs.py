"""Logs (document section 7.3): app_dir/logs/combined-*.log and error-*.log,
owned by the service user and kept log_retention_days; the journal keeps the
units' output, persistently and within journal_max_use."""

from pyinfra import host
from pyinfra.operations import systemd

from deploys.lib.templates import template

template(
    name=f"Keep app logs for {host.data.log_retention_days} days (systemd-tmpfiles)",
    src="templates/etc/tmpfiles.d/insta-connect-demo.conf.j2",
    dest="/etc/tmpfiles.d/insta-connect-demo.conf",
    mode="644",
)
journal = template(
    name="Keep the journal persistent and bounded",
    src="templates/etc/systemd/journald.conf.d/insta-connect-demo.conf.j2",
    dest="/etc/systemd/journald.conf.d/insta-connect-demo.conf",
    mode="644",
    create_remote_dir=True,
)
systemd.service(
    name="Restart journald for its new settings",
    service="systemd-journald",
    restarted=True,
    _if=journal.did_change,
)
