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

An accepted candidate is swapped in atomically; telling the service (a
reload) is then an owed action (deploys/lib/owed.py), so a run interrupted
between the two reloads on the next run.
"""

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import server

from deploys.lib import fact_cache
from deploys.lib.operations import refuse_unless
from deploys.lib.owed import after_change
from deploys.lib.templates import template

STAGING_DIR = "/var/lib/pyinfra-staged"


def checked_in_copy(tree: str, main: str, place: str, checker: str, remove: tuple[str, ...] = ()) -> str:
    """Shell that checks {candidate} as tree/place in a throwaway copy of tree
    (minus `remove`), whose main config file points into the copy. `checker`
    names the copy's root "$copy"."""
    parent = place.rsplit("/", 1)[0]
    return " && ".join([
        # Mode 0700, root's alone while it holds copies of keys; in /tmp, not the session's
        # TMPDIR (libpam-tmpdir's /tmp/user/0), which a checker running as the daemon's user cannot enter.
        'copy=$(mktemp -d -p /tmp)',
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


def validated_template(name: str, src: str, dest: str, check: str, checker: str, activate: str | None = None,
                       mode: str = "644", user: str = "root", group: str = "root", **template_data):
    """Render src to dest through the staging copy, checked before it goes live.

    check: shell that exits non-zero to refuse the file at {candidate}.
    checker: the check's name, for the refusal message.
    activate: shell that makes the service take the file up (a reload), owed
    once the live file changed; None when the service reads the file at every
    use, or the caller applies it otherwise.
    """
    staged = f"{STAGING_DIR}{dest}"
    render = template(
        name=f"{name}: render the candidate",
        src=src,
        dest=staged,
        mode=mode,
        create_remote_dir=True,
        **template_data,
    )
    is_live = f"if cmp -s {staged} {dest}; then echo live; fi"
    fact_cache.announce([(Command, {"command": is_live})])  # read with the other files' facts, in one round trip

    def needed() -> bool:
        return render.did_change() or host.get_fact(Command, command=is_live) != "live"

    swap = f"install -m {mode} -o {user} -g {group} {staged} {dest}.pyinfra-new && mv -f {dest}.pyinfra-new {dest}"
    server.shell(
        name=f"{name}: check with `{checker}`, then go live",
        commands=[
            refuse_unless(check, staged, f"{dest}: rejected by `{checker}`; the previous version stays live"),
            swap,
        ],
        _if=needed,
    )
    if activate:
        after_change(f"{name}: take it up ({activate})", "live" + dest.replace("/", "-"), (dest,), [activate])
