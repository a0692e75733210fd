"""A host set up by hand as the infrastructure document says has its app in
/root/insta-connect-demo, a directory: the deploy stops while it prepares,
saying how to move it aside, and changes nothing."""

from deploys.lib.app_runtime import DOCUMENT_APP_DIR
from tests.drills.conftest import host_untouched
from tests.pyinfra_run import operations_run, run_deploy


def test_a_checkout_where_the_document_puts_the_app_stops_the_deploy_before_it_starts(host, target,
                                                                                       sandbox_inventory):
    link = host.check_output("readlink %s", DOCUMENT_APP_DIR)
    host.check_output("mv %s %s.drill && mkdir %s", DOCUMENT_APP_DIR, DOCUMENT_APP_DIR, DOCUMENT_APP_DIR)
    try:
        with host_untouched(host, target.data):
            proc = run_deploy(sandbox_inventory, check=False)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert f"{DOCUMENT_APP_DIR} is a directory" in proc.stdout, proc.stdout[-3000:]
        assert f"mv {DOCUMENT_APP_DIR} {DOCUMENT_APP_DIR}.before-pyinfra" in proc.stdout
        assert operations_run(proc) == [], "an operation ran on the host"
    finally:
        host.check_output("rmdir %s && mv %s.drill %s", DOCUMENT_APP_DIR, DOCUMENT_APP_DIR, DOCUMENT_APP_DIR)
    assert host.check_output("readlink %s", DOCUMENT_APP_DIR) == link
