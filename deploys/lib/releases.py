"""The app as releases: the control machine packs the repo's app/ into one
artefact named by its content's hash; the host unpacks each into
app_dir/releases/<id> and serves the one app_dir/current points to. Each
release links the venv built for its requirements.txt, app_dir/venvs/<hash>,
which releases with the same requirements share."""

import gzip
import hashlib
import io
import tarfile
import tempfile
from functools import cache
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "app"


def shipped_files() -> list[Path]:
    """app/'s files, without a developer's bytecode and local settings."""
    return sorted(path for path in SOURCE.rglob("*") if path.is_file() and path.suffix != ".pyc"
                  and not any(part == "__pycache__" or part.startswith(".env") for part in path.parts))


@cache
def artefact() -> tuple[str, Path]:
    """(release id, path of the .tar.gz) for app/ as it is now; the same content
    always gives the same id and the same bytes, and a release on the host whose
    files were edited no longer hashes to its id."""
    files = shipped_files()
    # sha256sum's listing of the files in byte order: what AppReleases hashes on the host.
    listing = "".join(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}\n" for name, path in
                      sorted((path.relative_to(REPO).as_posix(), path) for path in files))
    release = hashlib.sha256(listing.encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"insta-connect-demo-release-{release}.tar.gz"
    if not target.exists():
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed, tarfile.open(fileobj=packed, mode="w") as tar:
            for path in files:  # no owners, modes or times: the host sets its own
                info = tarfile.TarInfo(path.relative_to(REPO).as_posix())
                info.size, info.mode = path.stat().st_size, 0o644
                tar.addfile(info, io.BytesIO(path.read_bytes()))
        partial = target.with_suffix(".partial")
        partial.write_bytes(buffer.getvalue())
        partial.replace(target)
    return release, target


def requirements_id() -> str:
    """The venv's name: the hash of the requirements it is built from."""
    return hashlib.sha256((SOURCE / "requirements.txt").read_bytes()).hexdigest()[:16]


class AppReleases(FactBase):
    """What app_dir holds, in one round trip: {"releases": {release: the venv
    it links}, newest first; "venvs": the venvs; (both complete: a hidden
    .<name> is one still being made); "current" and
    "previous": the releases those links name (None if missing); "legacy": the
    app/ and venv/ of the layout before releases, if still there; "content": what
    the files of release `check` hash to, as artefact() names a release}."""

    def command(self, app_dir, check=None):
        content = ("" if check is None else
                   f"echo content $(cd releases/{check} 2>/dev/null && find app -type f ! -name '*.pyc' -print0 "
                   "| LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum | cut -c1-16); ")
        return (f"cd {app_dir} 2>/dev/null || exit 0; {content}"
                'echo current $(basename "$(readlink current)"); echo previous $(basename "$(readlink previous)"); '
                "for r in $(ls -1t releases 2>/dev/null | grep -v '^[.]'); do "
                'echo release $r $(basename "$(readlink releases/$r/venv)"); done; '
                "for v in $(ls -1 venvs 2>/dev/null); do echo venv $v; done; "
                "for d in app venv; do [ -d $d ] && echo legacy $d; done; true")

    @staticmethod
    def default():  # no app_dir yet
        return {"releases": {}, "venvs": [], "current": None, "previous": None, "legacy": [], "content": None}

    def process(self, output):
        found = self.default()
        for line in output:
            kind, *names = line.split()
            if kind in ("current", "previous", "content"):
                found[kind] = names[0] if names else None
            elif kind == "release":
                found["releases"][names[0]] = names[1] if len(names) > 1 else None
            elif kind in ("venv", "legacy"):
                found[f"{kind}s" if kind == "venv" else kind].append(names[0])
        return found


def switch_command(release: str, replaced: str | None) -> str:
    """Shell: make `release` current and `replaced` previous, each link by one rename."""
    steps = [f"cd {host.data.app_dir}"]
    if replaced:
        steps.append(f"ln -sfn releases/{replaced} .previous.new && mv -T .previous.new previous")
    steps.append(f"ln -sfn releases/{release} .current.new && mv -T .current.new current")
    return " && ".join(steps)


def app_releases() -> dict:
    """AppReleases of the host, hashing the content of the repo's release."""
    return host.get_fact(AppReleases, app_dir=host.data.app_dir, check=artefact()[0])
