"""Redis turned off (redis_enabled False, the default): purge redis-server and
the config that holds its password. deploys/site.py runs this after
services.py, so the app has already restarted without REDIS_URL: no request
finds its rate-limit counters gone in between."""

from pyinfra import host
from pyinfra.operations import apt, files

from deploys.lib.owed import STAMP_DIR
from deploys.lib.redis_config import CONFIG_STAMP

if not host.data.redis_enabled:
    apt.packages(
        name="Purge redis-server and its configuration, which holds the password (redis_enabled is off)",
        packages=["redis-server"],
        present=False,
        # Purged, not removed: a re-install then starts from the packaged config again.
        purge=True,
    )
    files.file(
        name="Forget that redis-server ran its configuration (a re-install restarts for it)",
        path=f"{STAMP_DIR}/{CONFIG_STAMP}",
        present=False,
    )
