"""Config files that go live only after their own checker accepts them.

The template is rendered to a staging copy first. Only if it differs from the
live file is it swapped in, checked (`nginx -t`, `sshd -t`, ...) and activated;
a rejected file is swapped straight back, so the previous version stays live,
and the deploy fails naming the checker. The staging copy is kept, so an
unchanged template costs nothing on the next run, while a template that is
still broken is tried (and refused) again rather than silently skipped.

A go-live interrupted halfway is finished by the next run: a marker beside
the staging copy is made before the swap and removed only after the file was
accepted and activated. While it exists the go-live is done again, and the
copy of the last accepted version, taken when the marker was made, is kept:
a candidate swapped in but never checked is checked, and rolled back to that
copy if refused.
"""

from pyinfra import host
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import server

from deploys.lib.templates import template

STAGING_DIR = "/var/lib/pyinfra-staged"


def validated_template(name: str, src: str, dest: str, check: str, activate: str,
                       mode: str = "644", also_when=(), **template_data):
    """Render src to dest through the staging copy; returns the go-live op."""
    staged = f"{STAGING_DIR}{dest}"
    going_live, previous = f"{staged}.going-live", f"{staged}.previous"
    render = template(
        name=f"{name}: render the candidate",
        src=src,
        dest=staged,
        mode=mode,
        create_remote_dir=True,
        **template_data,
    )

    def needed() -> bool:
        return (render.did_change() or any(op.did_change() for op in also_when)
                or host.get_fact(Sha1File, path=staged) != host.get_fact(Sha1File, path=dest)
                or host.get_fact(File, path=going_live) is not None)

    return server.shell(
        name=f"{name}: check with `{check}`, then go live",
        commands=[
            # Only a go-live that is not already under way saves the live (accepted) version.
            f"if [ ! -e {going_live} ]; then if [ -e {dest} ]; then cp -p {dest} {previous}; "
            f"else rm -f {previous}; fi; touch {going_live}; fi",
            f"install -m {mode} {staged} {dest}.pyinfra-new && mv -f {dest}.pyinfra-new {dest}",
            f"if ! {check}; then "
            f"if [ -e {previous} ]; then mv -f {previous} {dest}; else rm -f {dest}; fi; rm -f {going_live}; "
            f"echo '{dest}: rejected by `{check}`; the previous version stays live' >&2; exit 1; fi",
            activate,
            f"rm -f {previous} {going_live}",
        ],
        _if=needed,
    )
