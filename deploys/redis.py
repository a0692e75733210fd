"""Optional Redis (document sections 1, 8): with redis_enabled, redis-server on
127.0.0.1 with a password (REDIS_PASSWORD), and the app gets REDIS_URL
(deploys/app.py). Off by default; turning it off removes it again, in
deploys/redis_removal.py, once the app no longer uses it.

The settings are checked while pyinfra prepares the deploy, the config file by
a throwaway redis-server before it goes live, and the restart for it is owed
until done (deploys/lib/owed.py): a deploy interrupted between writing the
file and restarting still restarts on the next run."""

import re

from pyinfra import host
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import apt, server, systemd

from deploys.lib import credentials
from deploys.lib.operations import secret_file
from deploys.lib.owed import mark_done, owed
from deploys.lib.redis_config import CONF, CONFIG_STAMP
from deploys.lib.templates import render
from deploys.lib.units import enable_and_start

# redis.conf's memory units: bytes, or k/kb/m/mb/g/gb (any case).
MEMORY = re.compile(r"[0-9]+(?:[kmg]b?|b)?", re.IGNORECASE)
# The candidate, read as the service would read it (as redis), by a redis-server on
# a private socket only, with its own empty data dir: it must say it is ready.
CHECK = "; ".join([
    'd=$(mktemp -d -p /tmp) || exit 1',  # not root's session TMPDIR (libpam-tmpdir), which redis cannot enter
    "trap 'kill $p 2>/dev/null; wait $p; rm -rf \"$d\"' EXIT",
    'chown redis:redis "$d"',
    'setpriv --reuid=redis --regid=redis --clear-groups redis-server {candidate} --port 0 --unixsocket "$d/s" '
    '--dir "$d" --pidfile "$d/pid" --logfile "$d/log" --daemonize no --supervised no --save "" --appendonly no '
    '>"$d/out" 2>&1 & p=$!',
    'for i in $(seq 100); do grep -qis "ready to accept connections" "$d/log" && exit 0; '
    'kill -0 $p 2>/dev/null || break; sleep 0.1; done',
    'cat "$d/out" "$d/log" 2>/dev/null | grep -v requirepass >&2',
    "exit 1",
])


def settings_error(port, maxmemory) -> str | None:
    """Why redis_port or redis_maxmemory would make a config Redis refuses, or None."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return f"redis_port must be a TCP port number, not {port!r}"
    if not MEMORY.fullmatch(str(maxmemory)):
        return f"redis_maxmemory must be bytes or a number with k, kb, m, mb, g or gb (e.g. 256mb), not {maxmemory!r}"
    return None


if host.data.redis_enabled:
    # Before any operation: bad settings stop the deploy with the host untouched.
    if error := settings_error(host.data.redis_port, host.data.redis_maxmemory):
        raise DeployError(f"{host.name}: {error}")
    password = credentials.require("REDIS_PASSWORD")["REDIS_PASSWORD"]
    content = render("templates/etc/redis/redis.conf.j2", password=password)
    installed = apt.packages(
        name="Install redis-server",
        packages=["redis-server"],
    )
    secret_file(
        name=f"Configure Redis: 127.0.0.1:{host.data.redis_port}, password required (never printed), "
             "checked by redis-server before it goes live",
        dest=CONF,
        content=content,
        user="redis", group="redis", mode="640",
        check=CHECK,
    )
    started = enable_and_start("redis-server")
    restarted = systemd.service(
        name="Restart redis-server for its configuration (changed, or owed by an interrupted run)",
        service="redis-server",
        restarted=True,
        # A freshly installed server runs the packaged config; one the step above just started runs ours.
        _if=lambda: not started.did_change() and (installed.did_change() or owed(CONFIG_STAMP, (CONF,))),
    )
    server.shell(
        name="Check that Redis answers with its password on loopback",
        commands=[f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {CONF})\" "
                  f"redis-cli -h 127.0.0.1 -p {host.data.redis_port} ping | grep -qx PONG"],
        _if=lambda: started.did_change() or restarted.did_change(),
    )
    mark_done("Record that redis-server runs its current configuration", CONFIG_STAMP, (CONF,))
