"""The whole host, one concern per deploy, in dependency order.

    pyinfra -y .sandbox/inventory.py deploys/site.py     # the sandbox
    pyinfra inventory.py deploys/site.py                 # production
"""

from pyinfra import local, state

from deploys.lib import fact_cache

fact_cache.install(state)

for concern in (
    "base",
    "logins",  # before ssh: a new team member's home is made private (login.defs UMASK)
    "ssh",  # before the firewall: team members' access is in place when SSH gets restricted
    "firewall",  # before nginx: port 80 must be open for the ACME validation
    "postgres",
    "redis",  # on: before the app, which then uses it
    "app",
    "logs",
    "services",
    "redis_removal",  # off: purged only once the restarted app no longer uses it
    "backups",
    "nginx",
    "certbot",  # after nginx: the http-01 challenge is served by nginx's port 80
):
    local.include(f"deploys/{concern}.py")
