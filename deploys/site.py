"""The whole host, one concern per deploy, in dependency order.

    pyinfra -y .sandbox/inventory.py deploys/site.py     # the sandbox
    pyinfra inventory.py deploys/site.py                 # production
"""

from pyinfra import local

for concern in (
    "base",
    "postgres",
    "redis",
    "app",
    "logs",
    "services",
    "backups",
):
    local.include(f"deploys/{concern}.py")
