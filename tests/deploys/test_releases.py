"""deploys/lib/releases.py: one artefact per version of app/, and what the host says it holds: fast tier."""

import subprocess
import tarfile

from deploys.lib.releases import REPO, AppReleases, artefact, requirements_id, shipped_files


def test_the_artefact_is_app_without_bytecode_or_local_settings_and_named_by_its_content():
    release, archive = artefact()
    names = tarfile.open(archive).getnames()
    assert names == [path.relative_to(REPO).as_posix() for path in shipped_files()]
    assert "app/wsgi.py" in names and "app/requirements.txt" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc") or "/.env" in name]
    artefact.cache_clear()
    again, rebuilt = artefact()
    assert (again, rebuilt.read_bytes()) == (release, archive.read_bytes())  # the same content, the same bytes
    assert len(release) == 16 and len(requirements_id()) == 16


def test_what_the_host_holds_is_read_in_one_answer():
    fact = AppReleases()
    assert fact.default() == {"releases": {}, "venvs": [], "current": None, "previous": None, "legacy": [],
                              "content": None}
    assert fact.process(["content r2", "current r2", "previous r1", "release r2 v1", "release r1 v1", "release r0",
                         "venv v1", "legacy app", "legacy venv"]) == {
        "releases": {"r2": "v1", "r1": "v1", "r0": None}, "venvs": ["v1"], "current": "r2", "previous": "r1",
        "legacy": ["app", "venv"], "content": "r2"}
    assert fact.process(["current", "previous"])["current"] is None


def test_a_release_unpacked_on_the_host_hashes_to_its_id_until_a_file_in_it_is_edited(tmp_path):
    """AppReleases' own shell command, run on an unpacked copy of the artefact."""
    release, archive = artefact()
    tarfile.open(archive).extractall(tmp_path / "releases" / release, filter="data")
    (tmp_path / "releases" / release / "app" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "releases" / release / "app" / "__pycache__" / "wsgi.cpython-311.pyc").write_bytes(b"bytecode")

    def content() -> str:
        command = AppReleases().command(str(tmp_path), check=release)
        output = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout
        return AppReleases().process(output.splitlines())["content"]
    assert content() == release
    with open(tmp_path / "releases" / release / "app" / "wsgi.py", "a") as edited:
        edited.write("# edited on the host\n")
    assert content() != release
