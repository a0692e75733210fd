"""PostgreSQL: the packages for the host's release, localhost-only scram-sha-256
access, memory sized from the host's RAM, the app's role and database, and the
cluster's unit in a systemd sandbox (a drop-in)."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, files, postgres, systemd

from deploys.lib import credentials
from deploys.lib.facts import MemTotalMb
from deploys.lib.operations import postgres_role_password, secret_file
from deploys.lib.owed import after_change
from deploys.lib.postgres_plan import AS_POSTGRES, memory_settings, postgres_plan
from deploys.lib.templates import template
from deploys.lib.units import UNIT_DIR, install_drop_in, restart_for_drop_ins
from deploys.lib.validated import checked_in_copy, validated_template

CONFIG_STAMP = "postgresql-config"  # deploys/lib/owed.py: a check, reload and restart are owed for the config files
DOCUMENT_LOG = "/var/log/postgresql/postgresql.log"  # the server log the infrastructure document tails (12.2)


@deploy("PGDG apt repository")
def add_pgdg_repository():
    key, source = "/etc/apt/keyrings/pgdg.asc", "/etc/apt/sources.list.d/pgdg.sources"
    files.put(
        name="Install the PostgreSQL project's signing key",
        src=f"templates{key}",
        dest=key,
        mode="644",
        create_remote_dir=True,
    )
    template(
        name="Add the PGDG apt source (deb822, signed-by its key)",
        src=f"templates{source}.j2",
        dest=source,
        mode="644",
        codename=host.get_fact(LinuxDistribution)["release_meta"]["VERSION_CODENAME"],
    )
    after_change("Refresh apt lists for the PGDG source", "apt-sources-pgdg", (key, source), ["apt-get update -q"])


@deploy("PostgreSQL sandbox")
def sandbox_cluster(unit: str, drop_in: str, major: int):
    """Install the cluster unit's sandbox and load it; the restart into it comes
    once the configuration is in place (restart_for_drop_ins)."""
    install_drop_in(unit, drop_in, "its sandbox",
                    src="templates/etc/systemd/system/postgresql@.service.d/sandboxing.conf.j2",
                    cluster=f"{major}-main", data_directory=f"/var/lib/postgresql/{major}/main")


@deploy("PostgreSQL configuration")
def configure_postgres(major: int):
    conf_dir = f"/etc/postgresql/{major}/main"
    ram_mb = host.get_fact(MemTotalMb)
    # Read by `postgres -C` in a copy of conf_dir first, so a value the server
    # refuses never reaches the file a restart (an unattended upgrade's, say) reads.
    validated_template(
        "PostgreSQL settings: localhost only, scram-sha-256, memory from RAM",
        src="templates/etc/postgresql/conf.d/90-insta-connect-demo.conf.j2",
        dest=f"{conf_dir}/conf.d/90-insta-connect-demo.conf",
        check=checked_in_copy(conf_dir, "postgresql.conf", "conf.d/90-insta-connect-demo.conf",
                              f'chown -R postgres "$copy" && runuser -u postgres -- '
                              f'/usr/lib/postgresql/{major}/bin/postgres -D "$copy" -C data_directory >/dev/null'),
        checker="postgres -C",
        # No activate: the owed check, reload and restart below apply it.
        user="postgres", group="postgres",
        ram_mb=ram_mb,
        **memory_settings(ram_mb, host.data.postgres_max_connections, host.data.postgres_shared_buffers_ratio,
                          host.data.postgres_effective_cache_ratio),
    )
    template(
        name="Render pg_hba.conf: scram-sha-256 from localhost only",
        src="templates/etc/postgresql/pg_hba.conf.j2",
        dest=f"{conf_dir}/pg_hba.conf",
        user="postgres", group="postgres", mode="640",
    )
    # The server parses the files on disk: refuse to reload into errors. A
    # setting the reload cannot apply (shared_buffers, port...) gets the restart.
    config = (f"{conf_dir}/conf.d/90-insta-connect-demo.conf", f"{conf_dir}/pg_hba.conf")
    # Shell inside after_change's one command line, where pyinfra's _sudo_user (AS_POSTGRES) cannot reach.
    psql_as_postgres = "cd / && runuser -u postgres -- psql -XAtc"
    after_change(
        "Check the changed PostgreSQL configuration, reload it, and restart for settings that need it",
        CONFIG_STAMP, config,
        # 'setting could not be applied' only means it needs the restart.
        [f"errors=$({psql_as_postgres} \"SELECT sourcefile || ':' || sourceline || ': ' || error "
         "FROM pg_file_settings WHERE error <> 'setting could not be applied' UNION ALL "
         "SELECT 'pg_hba.conf:' || line_number || ': ' || error "
         "FROM pg_hba_file_rules WHERE error IS NOT NULL\") && "
         "test -z \"$errors\" || { echo \"$errors\" >&2; exit 1; }",
         "systemctl reload postgresql",
         # Read from the files, not the reloaded server, which takes its SIGHUP in its own time.
         f"pending=$({psql_as_postgres} \"SELECT count(*) FROM pg_file_settings "
         "WHERE error = 'setting could not be applied'\") && "
         "if [ \"$pending\" != 0 ]; then systemctl restart postgresql; fi"],
    )


db_password = credentials.require("DB_PASSWORD")["DB_PASSWORD"]
distro = host.get_fact(LinuxDistribution)
try:
    major, use_pgdg = postgres_plan(distro["name"], distro["major"], host.data.postgres_version)
except ValueError as error:
    raise DeployError(f"{host.name}: {error}") from None
if use_pgdg:
    add_pgdg_repository()

cluster_unit = f"postgresql@{major}-main.service"
cluster_drop_in = f"{UNIT_DIR}/{cluster_unit}.d/sandboxing.conf"

apt.packages(
    name=f"Install PostgreSQL {major}",
    packages=[f"postgresql-{major}", f"postgresql-client-{major}"],
)
sandbox_cluster(cluster_unit, cluster_drop_in, major)
# postgresql-common's way to name a cluster's server log (what `pg_createcluster
# --logfile` makes): pg_ctlcluster reads this link at each start. The log stays a
# file, so logrotate's /var/log/postgresql/*.log rule rotates it, once.
log_link = f"/etc/postgresql/{major}/main/log"
files.link(
    name=f"Have the cluster write its server log to {DOCUMENT_LOG} (postgresql-common's log link)",
    path=log_link,
    target=DOCUMENT_LOG,
    user="postgres", group="postgres",
)
configure_postgres(major)
systemd.service(
    name="Keep PostgreSQL enabled and running",
    service="postgresql",
    running=True,
    enabled=True,
)
# Answers on TCP loopback (the app's way in), and runs a JIT-compiled query (JIT
# is why the sandbox has no MemoryDenyWriteExecute).
port = host.data.db_port
# pg_ctlcluster reads the log link only at start, so a changed link, like a
# changed drop-in, owes the cluster a restart.
restart_for_drop_ins(
    cluster_unit, (cluster_drop_in, log_link),
    check=" && ".join([
        f"systemctl is-active --quiet {cluster_unit}",
        f"pg_isready -q -h 127.0.0.1 -p {port}",
        f"cd / && runuser -u postgres -- psql -XAtq -p {port} -c 'SET jit_above_cost = 0' "
        "-c 'SELECT sum(n) FROM generate_series(1, 1000) AS n' >/dev/null",
        f'[ "$(readlink /proc/$(systemctl show -P MainPID {cluster_unit})/fd/2)" = {DOCUMENT_LOG} ]',
    ]),
    checks=f"active, answers on loopback, runs a JIT-compiled query, logs to {DOCUMENT_LOG}",
)
postgres.role(
    name=f"Create the {host.data.db_user} role (login, no superuser)",
    role=host.data.db_user,
    login=True,
    **AS_POSTGRES,
)
postgres_role_password(
    name=f"Set {host.data.db_user}'s password (only when the stored verifier differs)",
    role=host.data.db_user,
    password=db_password,
    **AS_POSTGRES,
)
postgres.database(
    name=f"Create the {host.data.db_name} database owned by {host.data.db_user}",
    database=host.data.db_name,
    owner=host.data.db_user,
    encoding="UTF8",
    **AS_POSTGRES,
)
# The document's psql and pg_dump commands (its sections 4 and 12.2), run as root,
# find the role's password here instead of asking for it ("localhost" also
# matches the Unix socket). root's alone, like the .env that holds it too.
secret_file(
    name=f"Give root's psql and pg_dump {host.data.db_user}'s password (/root/.pgpass, 0600; never printed)",
    dest="/root/.pgpass",
    content=":".join(field.replace("\\", "\\\\").replace(":", "\\:") for field in (
        "localhost", str(host.data.db_port), host.data.db_name, host.data.db_user, db_password)) + "\n",
    user="root", group="root", mode="600",
)
