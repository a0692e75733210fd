"""The plan of deploys/site.py (deploys/lib/plan.py). With `--dry` pyinfra
only prepares: the site's operations are declared and none runs; with `-y`
it leaves each operation's commands to be asked for later, which the plan
does once all are declared, so the file operations' facts are read together
(deploys/lib/fact_cache.py). Run by `make plan` (tools/plan.py):

    pyinfra -y --dry INVENTORY deploys/plan.py --data plan_out=OUT.json

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
