"""make plan's own logic, without a host: a secret file's diff names the
settings that changed and never shows a value; the report is one line for
a host that needs nothing; a host that cannot be read is an error (exit 1),
never a plan."""

from deploys.lib.plan import Declared, _diff
from tools.plan import ERROR, main, report

ON_HOST = ["# the app's environment", "NODE_ENV=production", "SESSION_SECRET=old-session-value", "APP_ID=1234"]
WANTED = ["# the app's environment", "NODE_ENV=production", "SESSION_SECRET=new-session-value", "APP_ID=1234",
          "REDIS_URL=redis://:redis-password@127.0.0.1:6379"]


def secret_diff(on_host: list[str], wanted: list[str]) -> str:
    return _diff(Declared("file", "/opt/app/.env", "\n".join(wanted).encode() + b"\n", secret=True), on_host)


def test_a_secret_files_diff_names_what_changed_and_masks_every_value():
    diff = secret_diff(ON_HOST, WANTED)
    assert "-SESSION_SECRET=********  (the host's value)" in diff.splitlines()
    assert "+SESSION_SECRET=********  (the new value)" in diff.splitlines()
    assert "+REDIS_URL=********  (the new value)" in diff.splitlines()
    assert " NODE_ENV=********" in diff.splitlines()  # unchanged: context, not a change
    for value in ("old-session-value", "new-session-value", "redis-password", "production", "1234"):
        assert value not in diff


def test_a_secret_line_that_is_no_setting_is_masked_whole():
    diff = secret_diff(ON_HOST + ["'quoted-secret'"], WANTED)
    assert "quoted-secret" not in diff
    assert "-********" in diff.splitlines()


def test_a_plain_files_diff_shows_the_lines():
    diff = _diff(Declared("file", "/etc/nginx/sites-available/app", b"server {\n}\n"), ["server {", "}", "# hand edit"])
    assert "-# hand edit" in diff.splitlines()


def test_a_host_that_needs_nothing_is_one_line():
    assert report("box", {"changes": [], "files": [], "follows": [], "unknown": []}) == ["box: no changes."]


def test_what_follows_from_a_change_is_listed_apart():
    plan = {"changes": [{"name": "Start app.timer", "kind": "unit", "commands": ["systemctl start app.timer"]}],
            "files": [], "unknown": [],
            "follows": [{"name": "Restart app.service", "kind": "unit", "commands": ["systemctl restart app.service"]}]}
    lines = report("box", plan)
    follows = next(number for number, line in enumerate(lines) if line.startswith("  Would follow"))
    assert lines.index("    ~ Start app.timer") < follows < lines.index("    ~ Restart app.service")


def test_a_host_it_cannot_reach_is_an_error_not_a_plan(tmp_path, capsys):
    inventory = tmp_path / "inventory.py"
    inventory.write_text('hosts = [("127.0.0.1", {"ssh_port": 1})]\n')  # nothing listens there
    assert main(str(inventory)) == ERROR
    assert "plan: no plan for every host" in capsys.readouterr().err
