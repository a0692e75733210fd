"""Secrets handling: token encryption, password hashes, OAuth state, HMACs."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

OAUTH_STATE_MAX_AGE_SECONDS = 600
PASSWORD_METHOD = "scrypt"
# Verifying against this when the user does not exist keeps login timing flat.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method=PASSWORD_METHOD)


class TokenCipher:
    """Access tokens are stored encrypted with TOKEN_ENCRYPTION_KEY (Fernet)."""

    def __init__(self, key: str):
        self._fernet = Fernet(key.encode("ascii"))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except InvalidToken:
            raise ValueError("token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def verify_password(password_hash: str | None, password: str) -> bool:
    return check_password_hash(password_hash or _DUMMY_HASH, password) and password_hash is not None


class StateError(Exception):
    """The OAuth state is missing, tampered with, expired or for someone else."""


class OAuthStateSigner:
    """state = signed {user id, random nonce} with a timestamp.

    The signature and max age are checked here; single use is enforced by
    the caller recording the nonce (see app.tokens.oauth).
    """

    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="oauth-state")

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"u": user_id, "n": secrets.token_urlsafe(18)})

    def verify(self, state: str, user_id: int) -> str:
        """Returns the nonce; raises StateError."""
        if not state:
            raise StateError("missing state")
        try:
            data = self._serializer.loads(state, max_age=OAUTH_STATE_MAX_AGE_SECONDS)
        except SignatureExpired:
            raise StateError("expired state") from None
        except BadSignature:
            raise StateError("invalid state") from None
        if not isinstance(data, dict) or data.get("u") != user_id or not data.get("n"):
            raise StateError("state belongs to another session")
        return data["n"]


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid_hub_signature(secret: str, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256 over the raw body, compared in constant time."""
    if not header:
        return False
    return hmac.compare_digest(hub_signature(secret, body).encode(), header.strip().lower().encode())


def constant_time_equals(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
