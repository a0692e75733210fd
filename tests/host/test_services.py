"""deploys/services.py, as the host shows it. Read-only: safe against production."""

import datetime as dt

import pytest

from deploys.lib.app_runtime import APP
from tests.host.conftest import (assert_enabled_and_running, assert_every, assert_exposure_at_most, assert_settings,
                                  calendar_elapses, next_elapse, unit_properties)

SANDBOXING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
    "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes", "MemoryDenyWriteExecute": "yes",
}


@pytest.mark.proves("S3.1-service")
def test_app_service_enabled_active_and_configured(host, target):
    assert_enabled_and_running(host, f"{APP}.service")
    props = unit_properties(host, f"{APP}.service", "User", "Restart", "EnvironmentFiles", "ReadWritePaths")
    assert_settings(props, {"User": target.data["app_user"], "Restart": "on-failure",
                            "ReadWritePaths": f"{target.data['app_dir']}/logs"}, f"systemctl show {APP}.service")
    assert props["EnvironmentFiles"].startswith(f"{target.data['app_dir']}/.env "), \
        f"{APP}.service's first EnvironmentFile is not {target.data['app_dir']}/.env: {props['EnvironmentFiles']}"


@pytest.mark.proves("S3.1-user-nodejs")
def test_gunicorn_serves_as_the_service_user(host, target):
    pid = unit_properties(host, f"{APP}.service", "MainPID")["MainPID"]
    assert host.check_output("ps -o user=,args= -p %s", pid).split()[0] == target.data["app_user"]
    assert "gunicorn" in host.check_output("ps -o args= -p %s", pid)


@pytest.mark.parametrize("unit", [f"{APP}.service", f"{APP}-token-refresh.service", f"{APP}-webhook-processor.service"])
def test_units_are_sandboxed_with_exposure_at_most_2(host, unit):
    assert_settings(unit_properties(host, unit, *SANDBOXING), SANDBOXING, f"systemctl show {unit}")
    assert_exposure_at_most(host, unit, 2.0, "the app's units' limit")


@pytest.mark.parametrize("job", [
    pytest.param("token-refresh", marks=pytest.mark.proves("S3.2-token-refresh-units")),
    pytest.param("webhook-processor", marks=pytest.mark.proves("S3.3-webhook-processor-units")),
])
def test_job_services_are_oneshot_and_timer_driven(host, target, job):
    assert_settings(unit_properties(host, f"{APP}-{job}.service", "Type", "User", "TriggeredBy"),
                    {"Type": "oneshot", "User": target.data["app_user"], "TriggeredBy": f"{APP}-{job}.timer"},
                    f"systemctl show {APP}-{job}.service")
    assert_enabled_and_running(host, f"{APP}-{job}.timer")


@pytest.mark.proves("S3.2-token-refresh-schedule")
def test_token_refresh_runs_daily_at_2_utc_and_catches_up(host):
    timer = f"{APP}-token-refresh.timer"
    elapse = next_elapse(host, timer)
    assert (elapse.hour, elapse.minute, elapse.second) == (2, 0, 0)
    assert elapse - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    elapses = calendar_elapses(host, timer)
    assert_every(elapses, dt.timedelta(days=1))
    assert unit_properties(host, timer, "Persistent")["Persistent"] == "yes"


@pytest.mark.proves("S3.3-webhook-processor-schedule")
def test_webhook_processor_runs_every_5_minutes(host):
    timer = f"{APP}-webhook-processor.timer"
    elapse = next_elapse(host, timer)
    assert elapse.minute % 5 == 0 and elapse.second == 0
    assert elapse - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=5)
    # The schedule itself, not one elapse that a timer firing every minute would also have.
    elapses = calendar_elapses(host, timer)
    assert all(when.minute % 5 == 0 and when.second == 0 for when in elapses), elapses
    assert_every(elapses, dt.timedelta(minutes=5))
