"""A missing, empty or malformed secret stops the real site deploy while
pyinfra prepares it: a clear error naming the secret (never its value), no
operation started, nothing on the host changed."""

import pytest

from tests.drills.conftest import deploy_with, host_untouched
from tests.pyinfra_run import operations_run
from tests.sandbox import secrets

MALFORMED_KEY = "bm90LWEtZmVybmV0LWtleQ"  # base64, but not of 32 bytes


@pytest.mark.parametrize("secret, value, message", [
    ("SESSION_SECRET", None, "missing or empty secret(s) SESSION_SECRET for "),
    ("APP_SECRET", "", "missing or empty secret(s) APP_SECRET for "),
    ("TOKEN_ENCRYPTION_KEY", MALFORMED_KEY, "the app would refuse its .env: TOKEN_ENCRYPTION_KEY is malformed: "
                                            "must be a Fernet key"),
], ids=["missing", "empty", "malformed"])
def test_a_bad_secret_stops_the_deploy_before_it_touches_the_host(host, target, sandbox_inventory, sandbox_secrets,
                                                                  tmp_path, monkeypatch, secret, value, message):
    bad = {name: v for name, v in sandbox_secrets.items() if name != secret}
    if value is not None:
        bad[secret] = value
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("".join(f"{name}={v}\n" for name, v in bad.items()))
    for name in secrets.GENERATORS:  # the environment comes first: it must not fill the gap
        monkeypatch.delenv(name, raising=False)
    with host_untouched(host, target.data):
        proc = deploy_with(sandbox_inventory, "deploys/site.py", secrets_file=str(secrets_file))
    assert proc.returncode != 0, "the deploy went through with a bad secret"
    assert message in proc.stdout, proc.stdout[-3000:]
    assert operations_run(proc) == [], "an operation ran before the secret was checked"
    leaked = [name for name, v in sandbox_secrets.items() if v in proc.stdout]
    assert not leaked and (not value or value not in proc.stdout), f"secret values in the output: {leaked}"
