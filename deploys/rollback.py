"""Return the app to its previous release in one step:

    pyinfra -y INVENTORY deploys/rollback.py

app_dir/current and app_dir/previous swap (so a second rollback returns to
where it started) and the service restarts onto it, losing no request
(deploys/services.py). The database is not migrated back: migrations only
add, so the previous release runs on the newer schema. The next
deploys/site.py makes the repo's release current again: revert the change
in the repo first to keep the rollback."""

from pyinfra import host, local, state
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import server

from deploys.lib import fact_cache
from deploys.lib.releases import app_releases, switch_command

fact_cache.install(state)

on_host = app_releases()
current, previous = on_host["current"], on_host["previous"]
if not previous or previous == current or previous not in on_host["releases"]:
    raise DeployError(f"{host.name}: no previous release to return to (current: {current}, previous: {previous})")

server.shell(
    name=f"Make release {previous} current again (one rename; {current} becomes previous)",
    commands=[switch_command(previous, current)],
)
local.include("deploys/services.py")
