"""deploys/lib/credentials.py: the secrets' sources and their order
(environment, Doppler, file), with a fake `doppler` CLI on PATH: fast tier."""

import json
import os
import stat

import pytest
from pyinfra.api.exceptions import DeployError

from deploys.lib import credentials

NAMES = ("DB_PASSWORD", "APP_SECRET", "VERIFY_TOKEN")


@pytest.fixture
def require(tmp_path, monkeypatch, on_host):
    """require(env=..., file=..., doppler=...) -> the secrets found, or "DeployError: ...".

    doppler: None for no CLI on PATH, a dict for a CLI that downloads it as JSON,
    a string for a CLI that fails with that message on stderr; doppler_stdout:
    what a CLI that succeeds prints instead."""
    def run(env: dict | None = None, file: str = "", doppler=None, doppler_config="dev_insta",
            doppler_stdout: str | None = None):
        if doppler_stdout is not None:
            doppler = {}
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "doppler-calls"
        (bin_dir / "doppler").unlink(missing_ok=True)
        if doppler is not None:
            if isinstance(doppler, dict):
                body = f"cat <<'EOF'\n{json.dumps(doppler) if doppler_stdout is None else doppler_stdout}\nEOF\n"
            else:
                body = f"echo {json.dumps(doppler)} >&2\nexit 1\n"
            (bin_dir / "doppler").write_text(f'#!/bin/sh\necho "$@" >> {log}\n{body}')
            (bin_dir / "doppler").chmod(stat.S_IRWXU)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
        for name in NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        (tmp_path / "secrets.env").write_text(file)
        credentials._doppler.cache_clear()
        credentials._file.cache_clear()
        with on_host(doppler_project="proj", doppler_config=doppler_config,
                     secrets_file=str(tmp_path / "secrets.env")):
            try:
                return credentials.require(*NAMES)
            except DeployError as error:
                return f"DeployError: {error}"
            finally:
                credentials._doppler.cache_clear()
                credentials._file.cache_clear()
    run.calls = lambda: (tmp_path / "doppler-calls").read_text().splitlines() \
        if (tmp_path / "doppler-calls").exists() else []
    return run


@pytest.mark.proves("S6-doppler")
def test_environment_then_doppler_then_file(require):
    found = require(env={"DB_PASSWORD": "env"},
                    doppler={"DB_PASSWORD": "doppler", "APP_SECRET": "doppler"},
                    file="DB_PASSWORD=file\nAPP_SECRET=file\nVERIFY_TOKEN=file\n")
    assert found == {"DB_PASSWORD": "env", "APP_SECRET": "doppler", "VERIFY_TOKEN": "file"}
    assert require.calls() == ["secrets download --no-file --format json --project proj --config dev_insta"]


def test_an_empty_value_falls_through_to_the_next_source(require):
    found = require(env={"DB_PASSWORD": ""}, doppler={"DB_PASSWORD": "", "APP_SECRET": "d", "VERIFY_TOKEN": "d"},
                    file="DB_PASSWORD=file\n")
    assert found["DB_PASSWORD"] == "file"


def test_doppler_is_not_asked_when_the_environment_has_everything(require):
    found = require(env=dict.fromkeys(NAMES, "env"), doppler="Unable to authenticate")
    assert found == dict.fromkeys(NAMES, "env")
    assert require.calls() == []


def test_installed_doppler_that_fails_stops_the_deploy_saying_why(require):
    out = require(doppler="Unable to fetch secrets: you must be logged in", file="\n".join(f"{n}=f" for n in NAMES))
    assert out.startswith("DeployError: the doppler CLI is installed but could not download the secrets of "
                          "proj/dev_insta: Unable to fetch secrets: you must be logged in")
    assert "doppler login" in out and "doppler_config = None" in out


@pytest.mark.parametrize("stdout", ["Welcome to Doppler", '["DB_PASSWORD"]'])
def test_doppler_that_answers_no_json_object_stops_the_deploy(require, stdout):
    out = require(doppler_stdout=stdout, file="\n".join(f"{n}=f" for n in NAMES))
    assert out == "DeployError: doppler gave no JSON object of secrets for proj/dev_insta"


@pytest.mark.parametrize("doppler, doppler_config", [(None, "dev_insta"), ("not logged in", None)])
def test_without_the_cli_or_without_a_config_doppler_is_skipped(require, doppler, doppler_config):
    found = require(doppler=doppler, doppler_config=doppler_config, file="\n".join(f"{n}=file" for n in NAMES))
    assert found == dict.fromkeys(NAMES, "file")
    assert require.calls() == []


def test_a_missing_secret_names_every_source(require):
    out = require(doppler={"DB_PASSWORD": "d"}, file="APP_SECRET=f\n")
    assert out.startswith("DeployError: missing or empty secret(s) VERIFY_TOKEN for box: set them in the environment, "
                          "in Doppler (proj/dev_insta) or in ")


def test_a_secret_systemd_would_mangle_is_refused(require):
    out = require(env={"APP_SECRET": "two words"}, file="DB_PASSWORD=x\nVERIFY_TOKEN=y\n")
    assert out.startswith("DeployError: secret APP_SECRET has a quote, space")
