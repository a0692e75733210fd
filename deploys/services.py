"""systemd (document sections 3.1-3.3): the app's service, and the token
refresh and webhook processor jobs with their timers. The service restarts
when the current release, .env or a unit changed since it last (re)started
and answered /health, and only then; a deploy interrupted in between still
owes the restart, and the next run makes it (deploys/lib/owed.py). No
request is lost to a restart: systemd keeps the socket listening, so new
requests wait in its queue while gunicorn finishes the ones in flight, exits
and starts again on the new release."""

from pyinfra import host
from pyinfra.operations import server, systemd

from app.config import TOKEN_REFRESH, WEB, WEBHOOK_PROCESSOR
from deploys.lib.app_runtime import APP, RELEASE_STAMP, env_file, health_check_command, release_files
from deploys.lib.owed import after_change, mark_done, owed
from deploys.lib.releases import app_releases
from deploys.lib.units import UNIT_DIR, enable_and_start, install_units, schedule_timer

SOCKET = f"{APP}.socket"
JOB_SERVICE = "templates/etc/systemd/system/insta-connect-demo-job.service.j2"
JOB_TIMER = "templates/etc/systemd/system/insta-connect-demo-job.timer.j2"
JOBS = {  # process (app/config.py): its module, what it does, when, whether a missed run is caught up
    TOKEN_REFRESH: ("app.tokens.job", "refresh long-lived Instagram tokens",
                    host.data.token_refresh_schedule, True),
    WEBHOOK_PROCESSOR: ("app.webhooks.job", "process queued webhook events",
                        host.data.webhook_processor_schedule, False),
}

units = {
    SOCKET: ("templates/etc/systemd/system/insta-connect-demo.socket.j2", {}),
    f"{APP}.service": ("templates/etc/systemd/system/insta-connect-demo.service.j2", {"env_file": env_file(WEB)}),
}
for process, (module, description, schedule, persistent) in JOBS.items():
    job = f"{APP}-{process}"
    units[f"{job}.service"] = (JOB_SERVICE, {"unit": job, "module": module, "description": description,
                                             "env_file": env_file(process)})
    units[f"{job}.timer"] = (JOB_TIMER, {"description": description, "schedule": schedule,
                                         "persistent": persistent})
install_units(units)

# systemd refuses to start a socket whose service already runs (it would not
# hand the running gunicorn its listener): a new or moved socket goes live with
# the service stopped, which the steps below start again.
after_change(f"Stop {APP}.service and (re)start {SOCKET} (new, or its address changed)", "app-socket",
             (f"{UNIT_DIR}/{SOCKET}",), [f"systemctl stop {APP}.service", f"systemctl restart {SOCKET}"])
systemd.service(
    name=f"Enable {SOCKET} at boot",
    service=SOCKET,
    enabled=True,
)
started = enable_and_start(f"{APP}.service")
restarted = systemd.service(
    name=f"Restart {APP}.service onto the current release (it, .env or a unit changed)",
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
mark_done(f"Record that {APP}.service runs its current release, .env and units",
          RELEASE_STAMP, release_files())
legacy = app_releases()["legacy"]
if legacy:
    server.shell(
        name=f"Remove the app's layout from before releases ({', '.join(legacy)})",
        commands=[f"rm -rf {' '.join(f'{host.data.app_dir}/{path}' for path in legacy)}"],
    )
for process in JOBS:
    schedule_timer(f"{APP}-{process}.timer")
