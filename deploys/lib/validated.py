"""Config files that go live only after their own checker accepts them.

The template is rendered to a staging copy first. Only if it differs from the
live file is it swapped in, checked (`nginx -t`, `sshd -t`, ...) and activated;
a rejected file is swapped straight back, so the previous version stays live,
and the deploy fails naming the checker. The staging copy is kept, so an
unchanged template costs nothing on the next run, while a template that is
still broken is tried (and refused) again rather than silently skipped.
"""

from pyinfra import host
from pyinfra.facts.files import Sha1File
from pyinfra.operations import files, server

STAGING_DIR = "/var/lib/pyinfra-staged"


def validated_template(name: str, src: str, dest: str, check: str, activate: str,
                       mode: str = "644", also_when=(), **template_data):
    """Render src to dest through the staging copy; returns the go-live op."""
    staged = f"{STAGING_DIR}{dest}"
    render = files.template(
        name=f"{name}: render the candidate",
        src=src,
        dest=staged,
        mode=mode,
        create_remote_dir=True,
        **template_data,
    )

    def needed() -> bool:
        return (render.did_change() or any(op.did_change() for op in also_when)
                or host.get_fact(Sha1File, path=staged) != host.get_fact(Sha1File, path=dest))

    previous = f"{dest}.pyinfra-previous"
    return server.shell(
        name=f"{name}: check with `{check}`, then go live",
        commands=[
            f"if [ -e {dest} ]; then cp -p {dest} {previous}; fi",
            f"install -m {mode} {staged} {dest}.pyinfra-new && mv -f {dest}.pyinfra-new {dest}",
            f"if {check}; then rm -f {previous}; else "
            f"if [ -e {previous} ]; then mv -f {previous} {dest}; else rm -f {dest}; fi; "
            f"echo '{dest}: rejected by `{check}`; the previous version stays live' >&2; exit 1; fi",
            activate,
        ],
        _if=needed,
    )
