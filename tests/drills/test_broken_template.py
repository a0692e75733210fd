"""A template that does not render (a Jinja syntax error, an undefined
variable) stops the site deploy while pyinfra prepares it, with an error
naming the template: no operation started, nothing on the host changed.
The broken templates are in a copy of the repo; both are plain files, with
no checker of their own between them and the host."""

import pytest

from tests.drills.conftest import host_untouched
from tests.pyinfra_run import operations_run, run_deploy


@pytest.mark.parametrize("template, breakage, error", [
    ("templates/etc/tmpfiles.d/insta-connect-demo.conf.j2", "{% if %}\n", "TemplateSyntaxError"),
    ("templates/usr/local/sbin/insta-connect-demo-backup.j2", "{{ no_such_variable }}\n",
     "UndefinedError: 'no_such_variable' is undefined"),
], ids=["syntax-error", "undefined-variable"])
def test_a_broken_template_stops_the_deploy_before_it_touches_the_host(host, target, sandbox_inventory, repo_copy,
                                                                       template, breakage, error):
    path = repo_copy / template
    path.write_text(path.read_text() + breakage)
    with host_untouched(host, target.data):
        proc = run_deploy(sandbox_inventory, check=False, cwd=repo_copy)
    assert proc.returncode != 0, "the deploy went through with a broken template"
    assert f"template {template}" in proc.stdout and error in proc.stdout, proc.stdout[-3000:]
    assert operations_run(proc) == [], "operations ran before the template was rendered"
