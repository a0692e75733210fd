"""The plan of deploys/site.py (deploys/lib/plan.py): prepared as `--dry`
prepares it, so no operation runs. Run by `make plan` (tools/plan.py):

    pyinfra --dry INVENTORY deploys/plan.py --data plan_out=OUT.json

OUT.json, written when pyinfra exits: {host name: its plan, or null where it
failed}.
"""

import sys

from pyinfra import host, local, state
from pyinfra.api.exceptions import DeployError

from deploys.lib import fact_cache, plan

if "--dry" not in sys.argv:  # without it, pyinfra would go on to run the site
    raise DeployError("deploys/plan.py only plans: run it with --dry (make plan)")

fact_cache.install(state)
plan.watch()
local.include("deploys/site.py")
plan.record(host.data.plan_out)
