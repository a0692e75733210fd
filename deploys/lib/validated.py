"""Config files that go live only after their own checker accepted them.

The template is rendered to a staging copy first. When it differs from the
live file, the checker (`nginx -t`, `sshd -t`, `visudo -c`) reads the
candidate, never the live file: either directly, or where the service would
read it inside a throwaway copy of the service's config tree
(`checked_in_copy`). So the live tree never holds an unchecked file, not even
for a moment, and a reboot or a package upgrade at any point restarts the
service on an accepted config. A refused candidate fails the deploy naming the
checker; the staging copy still differs from the live file, so the next run
tries (and refuses) it again rather than silently skipping it.

An accepted candidate is swapped in atomically, then the service is told
(reload). A marker made before the swap and removed after the reload makes the
next run finish a go-live that an interrupted deploy left between the two.
"""

from pyinfra import host
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import server

from deploys.lib.templates import template

STAGING_DIR = "/var/lib/pyinfra-staged"


def checked_in_copy(tree: str, main: str, place: str, checker: str, remove: tuple[str, ...] = ()) -> str:
    """Shell that checks {candidate} as tree/place in a throwaway copy of tree
    (minus `remove`), whose main config file points into the copy. `checker`
    names the copy's root "$copy"."""
    parent = place.rsplit("/", 1)[0]
    return " && ".join([
        'copy=$(mktemp -d)',  # mode 0700: root's alone while it holds copies of keys
        "trap 'rm -rf \"$copy\"' EXIT",
        f'cp -a {tree}/. "$copy"/',
        f'sed -i "s#{tree}/#$copy/#g" "$copy/{main}"',
        # Else the copy would pass without ever reading the candidate.
        f'(grep -v "^[[:space:]]*#" "$copy/{main}" | grep -qF "{parent}"'
        f' || (echo "{tree}/{main} does not include {tree}/{parent}/" >&2; false))',
        *(f'rm -f "$copy/{path}"' for path in (place, *remove)),
        f'cp {{candidate}} "$copy/{place}"',
        checker,
    ])


def validated_template(name: str, src: str, dest: str, check: str, checker: str, activate: str,
                       mode: str = "644", user: str = "root", group: str = "root", **template_data):
    """Render src to dest through the staging copy; returns the go-live op.

    check: shell that exits non-zero to refuse the file at {candidate}.
    checker: the check's name, for the refusal message.
    """
    staged = f"{STAGING_DIR}{dest}"
    going_live = f"{staged}.going-live"
    render = template(
        name=f"{name}: render the candidate",
        src=src,
        dest=staged,
        mode=mode,
        create_remote_dir=True,
        **template_data,
    )

    def needed() -> bool:
        return (render.did_change()
                or host.get_fact(Sha1File, path=staged) != host.get_fact(Sha1File, path=dest)
                or host.get_fact(File, path=going_live) is not None)

    return server.shell(
        name=f"{name}: check with `{checker}`, then go live",
        commands=[
            f"if ! ( {check.format(candidate=staged)} ); then "
            f"echo '{dest}: rejected by `{checker}`; the previous version stays live' >&2; exit 1; fi",
            f"touch {going_live}",
            f"install -m {mode} -o {user} -g {group} {staged} {dest}.pyinfra-new && mv -f {dest}.pyinfra-new {dest}",
            activate,
            f"rm -f {going_live}",
        ],
        _if=needed,
    )
