"""Facts pyinfra does not ship."""

from pyinfra.api import FactBase


class MemTotalMb(FactBase):
    """The host's RAM in MiB, from /proc/meminfo (procps may not be installed)."""

    def command(self):
        return "awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo"

    def process(self, output):
        return int(output[0])


class PostgresRoleVerifierDigest(FactBase):
    """A role's stored SCRAM verifier with its keys replaced by their SHA-256
    (deploys.lib.operations.verifier_digest), or None if it has none yet: what
    the deploy compares, without the verifier itself reaching pyinfra's output
    (-vvv prints facts). Run as postgres."""

    def requires_command(self, role):
        return "psql"

    def command(self, role):
        # chr(36) is '$', which the shell would otherwise have to be kept from expanding.
        part = lambda n: f"split_part(rolpassword, chr(36), {n})"  # noqa: E731
        return (f"psql -XAtc \"SELECT {part(1)} || chr(36) || {part(2)} || chr(36) || "
                f"encode(sha256(convert_to({part(3)}, 'UTF8')), 'hex') FROM pg_authid WHERE rolname = '{role}'\"")

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


class MainProcessStderr(FactBase):
    """The file a unit's main process writes its stderr to now, or None when it
    does not run (or writes to no file)."""

    def command(self, unit):
        return f'pid=$(systemctl show -P MainPID {unit}) && [ "$pid" != 0 ] && readlink /proc/$pid/fd/2 || true'

    def process(self, output):
        return output[0] if output[0].startswith("/") else None


class AppUnitFiles(FactBase):
    """The app's systemd unit files on the host: its service, and every
    <app>-*.service and <app>-*.timer (the jobs, the backup); [] if none."""

    def command(self, app):
        # list-unit-files exits 1 when nothing matches.
        return (f"systemctl list-unit-files --no-legend --plain "
                f"'{app}.service' '{app}-*.service' '{app}-*.timer' || true")

    def process(self, output):
        return sorted(line.split()[0] for line in output if line.strip())


class PostgresDatabaseRows(FactBase):
    """The database a restore would replace: its cluster's system identifier
    (new with every initdb, so a rebuilt host's differs) and the rows in each
    table of its public schema, schema_migrations aside (run as postgres)."""

    def requires_command(self, database):
        return "psql"

    def command(self, database):
        count = ("(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM public.%I', tablename), "
                 "false, true, '')))[1]::text")
        return (f"psql -XAt -F ' ' -d {database} -c \"SELECT system_identifier FROM pg_control_system()\" "
                f"-c \"SELECT tablename, {count} FROM pg_tables "
                f"WHERE schemaname = 'public' AND tablename <> 'schema_migrations'\"")

    def process(self, output):
        cluster, *tables = output
        return {"cluster": cluster.strip(), "rows": {table: int(rows) for table, rows in map(str.split, tables)}}


class PendingSecurityUpgrades(FactBase):
    """Packages that have an update in the distribution's security archive
    (Debian-Security, <release>-security), from apt's current lists."""

    def command(self):
        return "apt-get -s -o Debug::NoLocking=1 dist-upgrade | awk '/^Inst / && /-[Ss]ecurity/ {print $2}'"

    def process(self, output):
        return sorted(line.strip() for line in output if line.strip())
