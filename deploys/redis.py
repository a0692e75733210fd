"""Optional Redis (document sections 1, 8): with redis_enabled, redis-server on
127.0.0.1 with a password (REDIS_PASSWORD), and the app gets REDIS_URL
(deploys/app.py). Off by default; turning it off removes it again."""

from pyinfra import host
from pyinfra.operations import apt, server, systemd

from deploys.lib import credentials
from deploys.lib.operations import secret_file
from deploys.lib.templates import render

CONF = "/etc/redis/redis.conf"

if host.data.redis_enabled:
    password = credentials.require("REDIS_PASSWORD")["REDIS_PASSWORD"]
    apt.packages(
        name="Install redis-server",
        packages=["redis-server"],
    )
    conf = secret_file(
        name=f"Configure Redis: 127.0.0.1:{host.data.redis_port}, password required (never printed)",
        dest=CONF,
        content=render("templates/etc/redis/redis.conf.j2", password=password),
        user="redis", group="redis", mode="640",
    )
    systemd.service(
        name="Enable and start redis-server",
        service="redis-server",
        running=True,
        enabled=True,
    )
    restarted = systemd.service(
        name="Restart redis-server for its new configuration",
        service="redis-server",
        restarted=True,
        _if=conf.did_change,
    )
    server.shell(
        name="Check that Redis answers with its password on loopback",
        commands=[f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {CONF})\" "
                  f"redis-cli -h 127.0.0.1 -p {host.data.redis_port} ping | grep -qx PONG"],
        _if=restarted.did_change,
    )
else:
    apt.packages(
        name="Purge redis-server and its configuration, which holds the password (redis_enabled is off)",
        packages=["redis-server"],
        present=False,
        # Purged, not removed: a re-install then starts from the packaged config again.
        purge=True,
    )
