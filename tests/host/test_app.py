"""deploys/app.py, as the host shows it. Read-only: safe against production."""

import datetime as dt
import hashlib
import json
import re

from tests.host.conftest import listeners
from tests.inventory import REPO

APP_SRC = REPO / "app"
REQUIRED_ENV = {"NODE_ENV", "PORT", "DATABASE_URL", "LOG_LEVEL", "LOG_DIR", "APP_ID", "APP_SECRET",
                "OAUTH_REDIRECT_URI", "VERIFY_TOKEN", "OAUTH_STATE_SECRET", "SESSION_SECRET",
                "TOKEN_ENCRYPTION_KEY"}


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
        f"{app_dir}/app": ("root", user, 0o750),
        f"{app_dir}/.env": ("root", user, 0o640),
        f"{app_dir}/logs": (user, user, 0o750),
    }
    for path, (owner, group, mode) in expected.items():
        f = host.file(path)
        assert (f.user, f.group, f.mode) == (owner, group, mode), path


def test_service_user_cannot_change_its_code_or_env(host, target):
    app_dir, user = target.data["app_dir"], target.data["app_user"]
    for path in (f"{app_dir}/app", f"{app_dir}/app/wsgi.py", f"{app_dir}/.env", f"{app_dir}/venv"):
        assert host.run("runuser -u %s -- test -w %s", user, path).rc != 0, path
    assert host.run("runuser -u %s -- test -w %s", user, f"{app_dir}/logs").rc == 0


def test_deployed_code_is_the_repos_app(host, target):
    remote = dict(
        reversed(line.split(None, 1)) for line in host.check_output(
            "cd %s && find . -type f ! -name '*.pyc' -exec sha256sum {} +", f"{target.data['app_dir']}/app"
        ).splitlines())
    local = {"./" + str(p.relative_to(APP_SRC)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in APP_SRC.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert remote == local


def test_venv_has_exactly_the_pinned_dependencies(host, target):
    pins = {}
    for line in (APP_SRC / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(\s*;.*)?$", line.strip())
        if match and not match[3]:  # marker-guarded pins may not apply to this host's Python
            pins[match[1].lower().replace("_", "-")] = match[2]
    frozen = {}
    for line in host.check_output("%s/venv/bin/pip freeze --all", target.data["app_dir"]).splitlines():
        name, _, version = line.partition("==")
        frozen[name.lower().replace("_", "-")] = version
    assert {name: frozen.get(name) for name in pins} == pins
    assert host.run("%s/venv/bin/pip check", target.data["app_dir"]).rc == 0


def test_env_has_every_required_variable(env_names):
    assert REQUIRED_ENV <= env_names, f"missing from .env: {REQUIRED_ENV - env_names}"


def test_app_listens_on_loopback_only(host, target):
    assert listeners(host, target.data["app_port"]) == {"127.0.0.1"}


def test_health_returns_the_documented_json(host, target):
    body = json.loads(host.check_output("curl -fsS http://127.0.0.1:%s/health", str(target.data["app_port"])))
    assert set(body) == {"status", "timestamp", "uptime", "environment"}
    assert body["status"] == "healthy" and body["environment"] == target.data["node_env"]
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    stamp = dt.datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 300
