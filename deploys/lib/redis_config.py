"""What deploys/redis.py (Redis on) and deploys/redis_removal.py (off) share."""

CONF = "/etc/redis/redis.conf"
CONFIG_STAMP = "redis-config"  # deploys/lib/owed.py: a restart is owed for the config file
