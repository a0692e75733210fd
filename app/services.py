"""Per-application objects the views share, and the helpers they use."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from flask import current_app, jsonify, redirect, request, session, url_for
from psycopg_pool import ConnectionPool

from app import accounts
from app.config import Config
from app.meta import InstagramClient
from app.refresh import RefreshResult, refresh_account
from app.security import OAuthStateSigner, TokenCipher

EXTENSION_KEY = "insta_connect"
log = logging.getLogger("app.services")


@dataclass
class Services:
    config: Config
    pool: ConnectionPool
    cipher: TokenCipher
    states: OAuthStateSigner
    started_monotonic: float

    def client(self) -> InstagramClient:
        return InstagramClient(self.config)


def services() -> Services:
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


# --- operations offered both as pages and as JSON API ------------------------

def disconnect_account(user_id: int, account_id: str) -> bool:
    with services().pool.connection() as conn:
        deleted = accounts.delete_account(conn, user_id, account_id)
    if deleted:
        log.info("account disconnected", extra={"user_id": user_id, "account_id": account_id})
    return deleted


# What a user-requested refresh tells the user: (HTTP status for the API, message).
REFRESH_OUTCOMES = {
    "refreshed": (200, "Token refreshed."),
    "needs_reauth": (409, "Instagram no longer accepts this account's token: connect it again."),
    "deferred": (429, "Instagram is rate limiting requests; try again later."),
    "failed": (502, "Instagram did not answer as expected; try again later."),
    "skipped": (409, "A refresh of this account is already in progress."),
}


def refresh_account_now(user_id: int, account_id: str) -> RefreshResult | None:
    """A refresh asked for by the user: one attempt, no sleeping in a request.
    None when the account is not this user's."""
    svc = services()
    with svc.pool.connection() as conn:
        if accounts.get_account(conn, user_id, account_id) is None:
            return None
        return refresh_account(conn, svc.client(), svc.cipher, account_id,
                               retries=1, retry_base_seconds=0)
