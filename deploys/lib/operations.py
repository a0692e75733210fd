"""Operations pyinfra lacks: files whose content must never be printed, and a
role password set only when the stored SCRAM verifier does not match."""

import base64
import hashlib
import hmac
import secrets
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.api.command import HiddenValue, QuoteString
from pyinfra.facts.files import Sha256File
from pyinfra.operations import files

from deploys.lib.facts import PostgresRoleVerifier

SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


@operation()
def secret_file(dest: str, content: str, user: str, group: str, mode: str):
    """Upload `content` to `dest` when its checksum differs. Unlike files.put it
    prints no diff, even under --diff. The new version is written beside dest,
    into a file created empty with the final owner and mode (so the secret is
    never readable by anyone else), then renamed over dest: an interrupted
    upload never leaves a half-written file live."""
    if host.get_fact(Sha256File, path=dest) == hashlib.sha256(content.encode()).hexdigest():
        yield from files.file._inner(path=dest, user=user, group=group, mode=mode)
        return
    new = f"{dest}.pyinfra-new"
    yield StringCommand("install", "-m", mode, "-o", user, "-g", group, "/dev/null", new)
    # SFTP writes into the existing file, which keeps its owner and mode.
    yield FileUploadCommand(StringIO(content), new)
    yield StringCommand("mv", "-f", new, dest)


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hashlib.sha256(client_key).digest(), hmac.digest(salted, b"Server Key", "sha256")


def scram_verifier(password: str) -> str:
    """A PostgreSQL SCRAM-SHA-256 verifier (RFC 5802/7677) for an ASCII password."""
    salt = secrets.token_bytes(16)
    stored, server = _scram_keys(password, salt, SCRAM_ITERATIONS)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored)}:{b64(server)}"


def scram_matches(verifier: str | None, password: str) -> bool:
    try:
        method, params, keys = verifier.split("$")
        iterations, salt = params.split(":")
        stored, server = (base64.b64decode(part) for part in keys.split(":"))
    except (AttributeError, ValueError):
        return False
    expected = _scram_keys(password, base64.b64decode(salt), int(iterations))
    return method == "SCRAM-SHA-256" and hmac.compare_digest(stored + server, b"".join(expected))


@operation()
def postgres_role_password(role: str, password: str):
    """Set a role's password, unless it already has it: the stored verifier is
    checked here, so an unchanged run issues no ALTER ROLE. Only a verifier,
    never the password itself, is sent to the server. Run as postgres."""
    if not scram_matches(host.get_fact(PostgresRoleVerifier, role=role), password):
        sql = StringCommand(f"ALTER ROLE \"{role}\" PASSWORD '", HiddenValue(scram_verifier(password)), "'",
                            _separator="")
        yield StringCommand("psql", "-Xq", "-v", "ON_ERROR_STOP=1", "-c", QuoteString(sql))
