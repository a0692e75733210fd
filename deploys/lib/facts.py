"""Facts pyinfra does not ship."""

from pyinfra.api import FactBase


class MemTotalMb(FactBase):
    """The host's RAM in MiB, from /proc/meminfo (procps may not be installed)."""

    def command(self):
        return "awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo"

    def process(self, output):
        return int(output[0])


class PostgresRoleVerifier(FactBase):
    """The stored SCRAM verifier of a role (run as postgres), or None if there is none yet."""

    def requires_command(self, role):
        return "psql"

    def command(self, role):
        return f"psql -XAtc \"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'\""

    def process(self, output):
        return output[0] if output and output[0] else None


class PostgresPendingRestart(FactBase):
    """True when a setting in the files on disk differs from the running value and
    only a restart applies it (run as postgres)."""

    def requires_command(self):
        return "psql"

    def command(self):
        return ("psql -XAtc \"SELECT count(*) FROM pg_file_settings "
                "WHERE error = 'setting could not be applied'\"")

    def process(self, output):
        return int(output[0]) > 0


class UnitsNeedReload(FactBase):
    """True when systemd has loaded an older version of one of these unit files
    than the one on disk: a daemon-reload is still owed."""

    def command(self, units):
        return "systemctl show -P NeedDaemonReload " + " ".join(units)

    def process(self, output):
        return "yes" in output
