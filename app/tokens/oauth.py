"""Connecting an Instagram professional account (Instagram API with Instagram Login)."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app import accounts
from app.security import StateError
from app.tokens.meta import MetaError
from app.web.shared import current_user_id, login_required, shared

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
log = logging.getLogger(__name__)


def _failure(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


@bp.get("/start")
@login_required
def start():
    # Nothing is stored here: the state carries the user and a nonce, signed.
    objects = shared()
    return redirect(objects.client().authorize_url(objects.states.issue(current_user_id())))


def _consume_nonce(nonce: str, user_id: int) -> bool:
    """True the first time a state is presented, False on a replay."""
    with shared().pool.connection() as conn:
        return conn.execute(
            "INSERT INTO oauth_state_nonces (nonce, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (nonce, user_id),
        ).rowcount == 1


@bp.get("/callback")
@login_required
def callback():
    objects, user_id = shared(), current_user_id()
    try:
        nonce = objects.states.verify(request.args.get("state", ""), user_id)
    except StateError as exc:
        log.warning("oauth callback rejected", extra={"reason": str(exc), "user_id": user_id})
        return _failure(400, "This connection attempt is invalid or has expired. Please start again.")
    if not _consume_nonce(nonce, user_id):
        log.warning("oauth callback rejected", extra={"reason": "state replayed", "user_id": user_id})
        return _failure(400, "This connection attempt was already used. Please start again.")

    error = request.args.get("error")
    if error:
        log.info("oauth authorization not granted", extra={
            "user_id": user_id, "oauth_error": error, "reason": request.args.get("error_reason")})
        if error == "access_denied":
            flash("You did not allow access, so no account was connected.")
        else:
            flash("Instagram did not grant access, so no account was connected.")
        return redirect(url_for("dashboard.index"))

    # Instagram appends "#_" to the redirect; it can end up in a pasted code.
    code = request.args.get("code", "").removesuffix("#_")
    if not code:
        return _failure(400, "Instagram sent no authorization code. Please start again.")

    client = objects.client()
    try:
        short = client.exchange_code(code)
        token = client.exchange_long_lived(short["access_token"])
        profile = client.me(token.access_token)
    except MetaError as err:
        log.error("oauth token exchange failed", extra={"user_id": user_id, **err.as_log()})
        return _failure(502, "Instagram did not complete the connection. Please try again.")

    with objects.pool.connection() as conn:
        account_id = accounts.upsert_account(conn, user_id, profile, token, short["permissions"], objects.cipher)
    log.info("instagram account connected", extra={"user_id": user_id, "account_id": account_id})

    try:
        client.subscribe(token.access_token)
    except MetaError as err:
        log.error("webhook subscription failed", extra={"account_id": account_id, **err.as_log()})
        flash(f"Connected @{profile.get('username')}, but subscribing it to webhooks failed; "
              "reconnect it to try again.")
        return redirect(url_for("dashboard.index"))
    with objects.pool.connection() as conn:
        accounts.mark_subscribed(conn, account_id)
    flash(f"Connected @{profile.get('username')}.")
    return redirect(url_for("dashboard.index"))
