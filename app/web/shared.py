"""What the views share: the per-application objects (Shared: configuration,
database pool, token cipher, OAuth state signer) and the helpers they use."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from flask import current_app, jsonify, redirect, request, session, url_for
from psycopg_pool import ConnectionPool

from app import accounts
from app.config import Config
from app.security import OAuthStateSigner, TokenCipher
from app.tokens.meta import InstagramClient

EXTENSION_KEY = "insta_connect"
log = logging.getLogger(__name__)


@dataclass
class Shared:
    config: Config
    pool: ConnectionPool
    cipher: TokenCipher
    states: OAuthStateSigner
    started_at: float  # the service's start (gunicorn's master), as a Unix time: /health's uptime

    def client(self) -> InstagramClient:
        return InstagramClient(self.config)


def shared() -> Shared:
    return current_app.extensions[EXTENSION_KEY]


def current_user_id() -> int | None:
    return session.get("user_id")


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhook")) or request.accept_mimetypes.best == "application/json"


def login_required(view):
    """Pages redirect to /login; the JSON API answers 401."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user_id() is None:
            if wants_json():
                return jsonify(error="authentication required"), 401
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)
    return wrapper


def disconnect_account(user_id: int, account_id: str) -> bool:
    """The dashboard's and the JSON API's disconnect: the account and its tokens go."""
    with shared().pool.connection() as conn:
        deleted = accounts.delete_account(conn, user_id, account_id)
    if deleted:
        log.info("account disconnected", extra={"user_id": user_id, "account_id": account_id})
    return deleted

