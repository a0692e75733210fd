"""deploys/app.py, as the host shows it. Read-only: safe against production."""

import datetime as dt
import hashlib
import json
import re

import pytest

from app.config import PROCESSES, VARS, WEB
from deploys.lib.app_runtime import APP, DOCUMENT_APP_DIR, env_file
from deploys.lib.releases import artefact, shipped_files
from tests.host.conftest import app_curl, assert_owner_and_mode, first_lines_of_diff, read_env_names, unit_properties
from tests.inventory import REPO

APP_SRC = REPO / "app"
SECRETS = {var.name: var.used_by for var in VARS if var.secret}


@pytest.mark.proves("S3.1-user-nodejs")
def test_service_user_is_a_system_user_without_login_or_sudo(host, target):
    user = host.user(target.data["app_user"])
    assert user.exists and user.uid < 1000
    assert user.shell in ("/usr/sbin/nologin", "/bin/false")
    assert not {"sudo", "wheel", "admin"} & set(user.groups)
    assert "not allowed" in host.run("sudo -l -U %s", user.name).stdout


def test_app_dir_layout_modes_and_owners(host, target):
    app_dir, user = target.data["app_dir"], target.data["app_user"]
    expected = {
        app_dir: ("root", user, 0o750),
        f"{app_dir}/releases": ("root", user, 0o750),
        f"{app_dir}/venvs": ("root", user, 0o750),
        f"{app_dir}/current/": ("root", user, 0o750),
        f"{app_dir}/current/app": ("root", user, 0o750),
        f"{app_dir}/logs": (user, user, 0o750),
        **{env_file(process, target.data["app_dir"]): ("root", user, 0o640) for process in PROCESSES},
    }
    for path, (owner, group, mode) in expected.items():
        assert_owner_and_mode(host.file(path), owner, group, mode)


@pytest.mark.proves("S2.2-app-dir", "S6-env-location", "S7.3-tail-combined-log")
def test_the_documents_app_path_leads_root_to_the_app_and_nobody_else(host, target):
    link = host.file(DOCUMENT_APP_DIR).linked_to
    assert link == target.data["app_dir"], f"/root/insta-connect-demo leads to {link}, not {target.data['app_dir']}"
    assert host.run("cd /root/insta-connect-demo && test -f .env && test -d logs").rc == 0, \
        "root cannot reach .env and logs/ through /root/insta-connect-demo"
    assert host.run("runuser -u %s -- ls /root/insta-connect-demo/", target.data["app_user"]).rc != 0, \
        f"{target.data['app_user']} can read /root/insta-connect-demo: /root is open to it"


def test_service_user_cannot_change_its_code_or_env(host, target):
    app_dir, user = target.data["app_dir"], target.data["app_user"]
    for path in (f"{app_dir}/current", f"{app_dir}/current/app", f"{app_dir}/current/app/wsgi.py", f"{app_dir}/.env",
                 f"{app_dir}/current/venv/", f"{app_dir}/current/venv/bin", f"{app_dir}/releases"):
        assert host.run("runuser -u %s -- test -w %s", user, path).rc != 0, f"{user} may write to {path}"
    assert host.run("runuser -u %s -- test -w %s", user, f"{app_dir}/logs").rc == 0, \
        f"{user} may not write its logs in {app_dir}/logs"


def test_deployed_code_is_the_repos_app(host, target):
    deployed = f"{target.data['app_dir']}/current/app"
    remote = dict(
        reversed(line.split(None, 1)) for line in host.check_output(
            "cd %s && find . -type f ! -name '*.pyc' -exec sha256sum {} +", deployed).splitlines())
    local = {"./" + str(p.relative_to(APP_SRC)): hashlib.sha256(p.read_bytes()).hexdigest() for p in shipped_files()}
    changed = sorted(name for name in local.keys() & remote.keys() if local[name] != remote[name])
    drift = {"changed": changed, "missing on the host": sorted(local.keys() - remote.keys()),
             "only on the host": sorted(remote.keys() - local.keys())}
    assert not any(drift.values()), "\n".join([  # the first changed file's diff: enough to see what happened
        f"the deployed app ({deployed}) differs from the repo's app/: "
        + "; ".join(f"{kind}: {', '.join(names)}" for kind, names in drift.items() if names),
        *(first_lines_of_diff((APP_SRC / name).read_text(), host.check_output("cat %s/%s", deployed, name),
                              f"app/{name[2:]} (repo)", f"{deployed}/{name[2:]} (host)") for name in changed[:1]),
    ])


def test_the_service_runs_the_current_release_which_is_the_repos(host, target):
    app_dir, release = target.data["app_dir"], artefact()[0]
    current = host.file(f"{app_dir}/current").linked_to
    assert current == f"{app_dir}/releases/{release}", \
        f"{app_dir}/current is {current}, not the repo's app/ (release {release}): it was not deployed"
    pid = unit_properties(host, f"{APP}.service", "MainPID")["MainPID"]
    running = host.check_output("readlink /proc/%s/cwd", pid)
    assert running == current, f"the service still runs {running}, not {current}: it was not restarted onto it"
    releases = host.check_output("ls -1 %s/releases", app_dir).split()
    assert release in releases and len(releases) <= target.data["app_releases_kept"], releases


def test_venv_has_exactly_the_pinned_dependencies(host, target):
    pins = {}
    for line in (APP_SRC / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(\s*;.*)?$", line.strip())
        if match and not match[3]:  # marker-guarded pins may not apply to this host's Python
            pins[match[1].lower().replace("_", "-")] = match[2]
    frozen = {}
    for line in host.check_output("%s/current/venv/bin/pip freeze --all", target.data["app_dir"]).splitlines():
        name, _, version = line.partition("==")
        frozen[name.lower().replace("_", "-")] = version
    differing = {name: f"{frozen.get(name) or 'not installed'}, pinned {version}"
                 for name, version in pins.items() if frozen.get(name) != version}
    assert differing == {}, f"the venv differs from app/requirements.txt: {differing}"
    check = host.run("%s/current/venv/bin/pip check", target.data["app_dir"])
    assert check.rc == 0, f"pip check finds the venv's dependencies broken: {check.stdout}"


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.proves("S6-secrets")
def test_each_process_gets_its_required_variables_and_only_its_own_secrets(host, target, process):
    names, path = read_env_names(host, target.data, process), env_file(process, target.data["app_dir"])
    required = {var.name for var in VARS if var.default is None and process in var.used_by}
    assert required <= names, f"missing from {path}: {required - names}"
    foreign = {name for name, used_by in SECRETS.items() if process not in used_by}
    assert not names & foreign, f"{path} holds secrets its process never reads"


@pytest.mark.parametrize("unit, process", [("{app}.service", WEB), ("{app}-token-refresh.service", "token-refresh"),
                                           ("{app}-webhook-processor.service", "webhook-processor")])
def test_each_unit_loads_its_own_process_environment_file(host, target, unit, process):
    loaded = host.check_output("systemctl show -P EnvironmentFiles %s", unit.format(app=APP))
    assert loaded.split()[0] == env_file(process, target.data["app_dir"])


def test_the_app_listens_on_no_tcp_port_only_on_its_socket(host, target):
    socket = host.file(target.data["app_socket"])
    assert socket.is_socket, f"{target.data['app_socket']} is not a socket: the app is not listening on it"
    assert_owner_and_mode(socket, "root", "www-data", 0o660)
    assert "gunicorn" not in host.check_output("ss -Hltnp")


def test_only_nginx_can_reach_the_app_directly(host, target):
    """A local account other than nginx's cannot get round nginx's rules (admin_ips on /metrics)."""
    socket = target.data["app_socket"]
    # curl's exit 7: it could not connect.
    assert host.run("runuser -u nobody -- curl -sS --unix-socket %s http://localhost/metrics", socket).rc == 7, \
        f"nobody can connect to {socket}"
    connect = f"import socket; socket.socket(socket.AF_UNIX).connect({socket!r})"
    assert "PermissionError" in host.run("runuser -u nobody -- python3 -c %s", connect).stderr, \
        f"nobody's connect() to {socket} is not refused for want of permission"
    assert host.run("runuser -u nobody -- curl -sS http://127.0.0.1:3000/metrics").rc == 7, \
        "something answers on 127.0.0.1:3000"
    assert "healthy" in host.check_output("runuser -u www-data -- curl -fsS --unix-socket %s http://localhost/health",
                                          socket)


def test_a_local_caller_cannot_choose_its_client_address(host, target):
    """nginx replaces X-Forwarded-For with the peer's address, which the app logs (and rate-limits by)."""
    data = target.data
    headers = host.check_output(
        "runuser -u nobody -- curl -fsSk -o /dev/null -D - -H 'X-Forwarded-For: 203.0.113.7' "
        "--resolve %s:443:127.0.0.1 https://%s/health", data["domain"], data["domain"])
    request_id = re.search(r"(?im)^x-request-id: *(\S+)", headers)[1]
    logged = host.check_output("grep -h -m1 -F %s %s/logs/combined-*.log", request_id, data["app_dir"])
    assert json.loads(logged)["remote_addr"] == "127.0.0.1", logged


@pytest.mark.proves("S7.1-health", "S6-node-env")
def test_health_returns_the_documented_json(host, target):
    body = json.loads(host.check_output(f"{app_curl(target.data)} -f http://localhost/health"))
    assert set(body) == {"status", "timestamp", "uptime", "environment"}
    assert body["status"] == "healthy" and body["environment"] == target.data["node_env"]
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    stamp = dt.datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 300


@pytest.mark.proves("S7.1-health-uptime-ms")
def test_health_uptime_is_the_services_in_milliseconds(host, target):
    """uptime is the time since systemd started the service's main process (gunicorn's master), in ms."""
    started = int(host.check_output("systemctl show --timestamp=unix -P ExecMainStartTimestamp %s.service",
                                    APP).lstrip("@"))
    health, now_ms = host.check_output(f"{app_curl(target.data)} -f http://localhost/health; date +%s%3N").split()
    service_ms = int(now_ms) - started * 1000
    # The master records its start after Python and gunicorn are loaded: a little later than systemd's.
    assert 0 <= service_ms - json.loads(health)["uptime"] < 10_000, (service_ms, health)


@pytest.mark.parametrize("name", [
    pytest.param("NODE_ENV", marks=pytest.mark.proves("S6-node-env")),
    pytest.param("LOG_LEVEL", marks=pytest.mark.proves("S6-log-level")),
    pytest.param("OAUTH_REDIRECT_URI", marks=pytest.mark.proves("S6-oauth-redirect-uri")),
])
def test_the_documents_settings_in_env(host, target, name):
    """The environment's settings that are no secret, by value: the inventory's, and the callback on the domain."""
    data = target.data
    wanted = {"NODE_ENV": data["node_env"], "LOG_LEVEL": data["log_level"],
              "OAUTH_REDIRECT_URI": f"https://{data['domain']}/oauth/callback"}[name]
    assert host.check_output("grep ^%s= %s", name, env_file(WEB, data["app_dir"])) == f"{name}={wanted}"
