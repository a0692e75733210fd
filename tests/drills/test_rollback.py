"""deploys/rollback.py returns the app to the previous release in one step:
the service runs it, a second rollback returns to where it started, and a
host with no previous release is refused without being touched."""

from deploys.lib.app_runtime import APP
from tests.drills.conftest import host_untouched
from tests.drills.test_zero_downtime import current_release
from tests.host.conftest import app_curl, unit_properties
from tests.pyinfra_run import changed, run_deploy


def test_rollback_returns_to_the_previous_release_and_back(host, target, sandbox_inventory, repo_copy):
    app, app_dir = APP, target.data["app_dir"]
    original = current_release(host, app_dir)
    (repo_copy / "app/web/static/app.css").write_text((repo_copy / "app/web/static/app.css").read_text() + "\n/* rollback drill */\n")
    run_deploy(sandbox_inventory, "deploys/site.py", cwd=repo_copy)
    changed = current_release(host, app_dir)
    assert changed != original

    def serves(release: str) -> None:
        assert current_release(host, app_dir) == release
        pid = unit_properties(host, f"{app}.service", "MainPID")["MainPID"]
        assert host.check_output("readlink /proc/%s/cwd", pid) == f"{app_dir}/releases/{release}"
        assert '"status":"healthy"' in host.check_output(f"{app_curl(target.data)} -f http://localhost/health")

    run_deploy(sandbox_inventory, "deploys/rollback.py")
    serves(original)
    assert host.check_output("readlink %s/previous", app_dir).endswith(changed)
    run_deploy(sandbox_inventory, "deploys/rollback.py")
    serves(changed)
    run_deploy(sandbox_inventory, "deploys/rollback.py")
    serves(original)  # the repo's release again: the site's next run changes nothing

    host.check_output("mv %s/previous %s/previous.drill", app_dir, app_dir)
    try:
        with host_untouched(host, target.data):
            refused = run_deploy(sandbox_inventory, "deploys/rollback.py", check=False)
        assert refused.returncode != 0 and "no previous release to return to" in refused.stdout, refused.stdout[-2000:]
    finally:
        host.check_output("mv %s/previous.drill %s/previous", app_dir, app_dir)
    serves(original)


def test_a_file_edited_inside_the_current_release_is_put_back_by_the_next_deploy(host, target, sandbox_inventory):
    app, app_dir = APP, target.data["app_dir"]
    release = current_release(host, app_dir)
    code = f"{app_dir}/releases/{release}/app/wsgi.py"
    host.check_output("echo '# edited on the host' >> %s", code)
    pid = unit_properties(host, f"{app}.service", "MainPID")["MainPID"]
    run_deploy(sandbox_inventory, "deploys/site.py")
    assert host.run("grep -q 'edited on the host' %s", code).rc == 1, "the edit is still there"
    assert current_release(host, app_dir) == release
    after = unit_properties(host, f"{app}.service", "MainPID")["MainPID"]
    assert after != pid, "the service still runs the edited code"
    assert host.check_output("readlink /proc/%s/cwd", after) == f"{app_dir}/releases/{release}"
    assert '"status":"healthy"' in host.check_output(f"{app_curl(target.data)} -f http://localhost/health")
    assert changed(run_deploy(sandbox_inventory, "deploys/site.py")) == []
