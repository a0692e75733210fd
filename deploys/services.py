"""systemd (document sections 3.1-3.3): the app's service, and the token
refresh and webhook processor jobs with their timers. The service restarts
when its unit, code, dependencies or .env changed since it last (re)started
and answered /health, and only then; a deploy interrupted in between still
owes the restart, and the next run makes it (deploys/lib/owed.py)."""

from pyinfra import host
from pyinfra.operations import server, systemd

from deploys.lib.app import RELEASE_STAMP, health_check_command, release_files
from deploys.lib.owed import mark_done, owed
from deploys.lib.units import enable_and_start, install_units, schedule_timer

APP = host.data.app_name
JOB_SERVICE = "templates/etc/systemd/system/insta-connect-demo-job.service.j2"
JOB_TIMER = "templates/etc/systemd/system/insta-connect-demo-job.timer.j2"
JOBS = {
    f"{APP}-token-refresh": ("app.jobs.refresh_tokens", "refresh long-lived Instagram tokens",
                             host.data.token_refresh_schedule, True),
    f"{APP}-webhook-processor": ("app.jobs.webhook_processor", "process queued webhook events",
                                 host.data.webhook_processor_schedule, False),
}

units = {f"{APP}.service": ("templates/etc/systemd/system/insta-connect-demo.service.j2", {})}
for job, (module, description, schedule, persistent) in JOBS.items():
    units[f"{job}.service"] = (JOB_SERVICE, {"unit": job, "module": module, "description": description})
    units[f"{job}.timer"] = (JOB_TIMER, {"description": description, "schedule": schedule,
                                         "persistent": persistent})
installed = install_units(units)

started = enable_and_start(f"{APP}.service")
restarted = systemd.service(
    name=f"Restart {APP}.service (its unit, code, dependencies or .env changed)",
    service=f"{APP}.service",
    restarted=True,
    # A service the step above just started already runs the new version.
    _if=lambda: not started.did_change() and owed(RELEASE_STAMP, release_files()),
)
server.shell(
    name=f"Check that {APP} answers /health after the (re)start",
    commands=[health_check_command()],
    _if=lambda: started.did_change() or restarted.did_change(),
)
mark_done(f"Record that {APP}.service runs its current code, dependencies, .env and unit",
          RELEASE_STAMP, release_files())
for job in JOBS:
    schedule_timer(f"{job}.timer", installed[f"{job}.timer"])
