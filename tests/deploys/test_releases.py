"""deploys/lib/releases.py: one artefact per version of app/, and what the host says it holds: fast tier."""

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
    assert fact.default() == {"releases": {}, "venvs": [], "current": None, "previous": None, "legacy": []}
    assert fact.process(["current r2", "previous r1", "release r2 v1", "release r1 v1", "release r0",
                         "venv v1", "legacy app", "legacy venv"]) == {
        "releases": {"r2": "v1", "r1": "v1", "r0": None}, "venvs": ["v1"], "current": "r2", "previous": "r1",
        "legacy": ["app", "venv"]}
    assert fact.process(["current", "previous"])["current"] is None
