"""Operations pyinfra lacks: files whose content must never be printed, and a
role password set only when the stored SCRAM verifier does not match.

Secrets travel on stdin or inside uploaded files, never on a command line:
a command line shows in `ps`, in sudo's log and in pyinfra's output (-vv).
"""

import base64
import hashlib
import hmac
import secrets
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.facts.files import Sha256File
from pyinfra.operations import files

from deploys.lib.facts import PostgresRoleVerifierDigest

SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def refuse_unless(check: str, candidate: str, message: str, cleanup: str = "") -> str:
    """Shell: run `check` on {candidate}; if it refuses, run `cleanup`, say
    `message` and fail, before anything goes live."""
    return f"if ! ( {check.format(candidate=candidate)} ); then {cleanup}echo '{message}' >&2; exit 1; fi"


@operation()
def secret_file(dest: str, content: str, user: str, group: str, mode: str, check: str | None = None):
    """Upload `content` to `dest` when its checksum differs. Unlike files.put it
    prints no diff, even under --diff. The new version is written beside dest,
    into a file created empty with the final owner and mode (so the secret is
    never readable by anyone else), then renamed over dest: an interrupted
    upload never leaves a half-written file live.

    check: shell that exits non-zero to refuse the new version at {candidate};
    a refused version is deleted and never goes live (the deploy fails)."""
    if host.get_fact(Sha256File, path=dest) == hashlib.sha256(content.encode()).hexdigest():
        yield from files.file._inner(path=dest, user=user, group=group, mode=mode)
        return
    new = f"{dest}.pyinfra-new"
    yield StringCommand("install", "-m", mode, "-o", user, "-g", group, "/dev/null", new)
    # SFTP writes into the existing file, which keeps its owner and mode.
    yield FileUploadCommand(StringIO(content), new)
    if check:
        yield StringCommand(refuse_unless(check, new, f"{dest}: the new version was refused; the previous one "
                                          "stays live", cleanup=f"rm -f {new}; "))
    yield StringCommand("mv", "-f", new, dest)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hashlib.sha256(client_key).digest(), hmac.digest(salted, b"Server Key", "sha256")


def scram_verifier(password: str) -> str:
    """A PostgreSQL SCRAM-SHA-256 verifier (RFC 5802/7677) for an ASCII password."""
    salt = secrets.token_bytes(16)
    stored, server = _scram_keys(password, salt, SCRAM_ITERATIONS)
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


def scram_matches(verifier: str | None, password: str) -> bool:
    return isinstance(verifier, str) and scram_digest_matches(verifier_digest(verifier), password)


def verifier_digest(verifier: str) -> str:
    """A verifier with its keys replaced by their SHA-256, as PostgresRoleVerifierDigest reads it."""
    head, _, keys = verifier.rpartition("$")
    return f"{head}${hashlib.sha256(keys.encode()).hexdigest()}"


def scram_digest_matches(digest: str | None, password: str) -> bool:
    """Whether a verifier_digest() is that of a verifier for password (same salt and iterations)."""
    try:
        method, params, _ = digest.split("$")
        iterations, salt = params.split(":")
        stored, server = _scram_keys(password, base64.b64decode(salt), int(iterations))
    except (AttributeError, ValueError):
        return False
    expected = verifier_digest(f"{method}${params}${_b64(stored)}:{_b64(server)}")
    return method == "SCRAM-SHA-256" and hmac.compare_digest(digest.encode(), expected.encode())


@operation()
def postgres_role_password(role: str, password: str):
    """Set a role's password, unless it already has it: the stored verifier is
    checked here, against a digest of it (the verifier itself never reaches
    pyinfra's output), so an unchanged run issues no ALTER ROLE. Only a verifier,
    never the password itself, is sent to the server, on psql's stdin: not on a
    command line, in an error message or in the server's log. Run as postgres."""
    if not scram_digest_matches(host.get_fact(PostgresRoleVerifierDigest, role=role), password):
        sql = "\n".join([
            "\\set VERBOSITY terse",  # an error names no statement text
            "\\set SHOW_CONTEXT never",
            "SET log_statement = 'none';",  # nor does the server's log
            "SET log_min_error_statement = 'panic';",
            f"ALTER ROLE \"{role}\" PASSWORD '{scram_verifier(password)}';",
        ]) + "\n"
        yield StringCommand("psql", "-Xq", "-v", "ON_ERROR_STOP=1", "-f", "-", _stdin=sql)
