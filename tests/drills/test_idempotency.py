"""A second run of the whole site on an already-provisioned host changes nothing."""

from tests.pyinfra_run import changed_operations, run_deploy


def test_second_site_run_reports_no_changes(sandbox_inventory):
    proc = run_deploy(sandbox_inventory)
    changed = changed_operations(proc.stdout)
    assert changed == [], "operations changed on the second run:\n  " + "\n  ".join(changed)
