"""A second run of the whole site on an already-provisioned host changes
nothing, and reads the host in few remote commands (facts included)."""

from tests.pyinfra_run import changed, run_deploy

MAX_COMMANDS = 90  # a no-change run's budget; measured figure in docs/performance.md


def test_second_site_run_reports_no_changes_in_few_commands(sandbox_inventory):
    proc = run_deploy(sandbox_inventory)
    assert changed(proc) == [], "operations changed on the second run:\n  " + "\n  ".join(changed(proc))
    for host, result in proc.record.items():
        assert len(result["operations"]) > 100, f"{host}: the record holds too few operations to be the site"
        commands = len(result["commands"])
        assert commands <= MAX_COMMANDS, f"{host}: {commands} remote commands, over {MAX_COMMANDS}"
        print(f"\n{host}: no change, {len(result['operations'])} operations, {commands} remote commands")
