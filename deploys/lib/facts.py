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
