"""The deploy's secrets, looked up in order:

1. the operator's environment (`APP_SECRET=... pyinfra ...`);
2. Doppler, when `doppler_config` is set and the `doppler` CLI is installed
   (asked only for secrets the environment lacks). Installed but unable to
   download them (not logged in, no access to the config) stops the deploy
   with Doppler's own message, rather than quietly falling back to the file:
   log in, or set `doppler_config = None` to use the file;
3. the untracked local file `secrets_file` (KEY=value lines).

`require()` runs while pyinfra prepares the deploy, so a missing or empty
secret stops everything before any operation touches the host; so does
`check_app_env()` for a .env the app's own validator (app/config.py) would
refuse, e.g. a TOKEN_ENCRYPTION_KEY that is no Fernet key. Values only ever
leave the control machine inside files uploaded by
`deploys.lib.operations.secret_file`.
"""

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from pyinfra import host
from pyinfra.api.exceptions import DeployError

from app.config import SUPPLIED, ConfigError, environment_for, load_config

# What the app's .env needs from the secret store: the app's supplied variables
# (app/config.py), and the database password DATABASE_URL and the role are made with.
APP_SECRETS = ("DB_PASSWORD", *SUPPLIED)


@cache
def _doppler(project: str, config: str | None) -> dict[str, str]:
    if not config or not shutil.which("doppler"):
        return {}
    where = f"{project}/{config}"

    def cannot_download(said: str) -> DeployError:
        return DeployError(f"the doppler CLI is installed but could not download the secrets of {where}: {said or '?'} "
                           "(log in with `doppler login`, or set doppler_config = None to skip Doppler)")

    try:
        out = subprocess.run(
            ["doppler", "secrets", "download", "--no-file", "--format", "json",
             "--project", project, "--config", config],
            capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise cannot_download("no answer within 60 s") from None
    if out.returncode != 0:
        raise cannot_download(out.stderr.strip())
    try:
        secrets = json.loads(out.stdout)
    except ValueError:
        secrets = None
    if not isinstance(secrets, dict):
        raise DeployError(f"doppler gave no JSON object of secrets for {where}")
    return {str(key): str(value) for key, value in secrets.items()}


def parse_env(text: str) -> dict[str, str]:
    """KEY=value lines, as in the secrets file and .env; comments and blank lines skipped."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@cache
def _file(path: str | None) -> dict[str, str]:
    if not path or not Path(path).is_file():
        return {}
    return parse_env(Path(path).read_text())


def require(*names: str) -> dict[str, str]:
    """The named secrets for the current host; stops the deploy naming any missing or empty one."""
    def sources():  # in order; Doppler only asked for what the environment lacks
        yield os.environ
        yield _doppler(host.data.doppler_project, host.data.doppler_config)
        yield _file(host.data.secrets_file)

    found, missing = {}, []
    for name in names:
        value = next((source[name] for source in sources() if source.get(name)), None)
        if value is None:
            missing.append(name)
        elif any(c in value for c in "\n\r\"'\\$` "):
            raise DeployError(f"secret {name} has a quote, space, backslash, $ or newline; "
                              "systemd's EnvironmentFile would mangle it")
        else:
            found[name] = value
    if missing:
        raise DeployError(
            f"missing or empty secret(s) {', '.join(missing)} for {host.name}: set them in the environment, "
            f"in Doppler ({host.data.doppler_project}/{host.data.doppler_config}) "
            f"or in {host.data.secrets_file}")
    return found


def env_for_process(process: str, content: str) -> str:
    """The lines of a rendered .env that one of the app's processes reads (app/config.py)."""
    kept = environment_for(process, parse_env(content))
    return "".join(line for line in content.splitlines(keepends=True)
                   if line.lstrip().startswith("#") or line.split("=", 1)[0].strip() in kept)


def check_app_env(content: str) -> None:
    """Stops the deploy if the app would refuse this .env at start-up; the
    message names the variable, never its value."""
    try:
        load_config(parse_env(content))
    except ConfigError as error:
        raise DeployError(f"{host.name}: the app would refuse its .env: {error}") from None
