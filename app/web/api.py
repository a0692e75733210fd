"""JSON API for the signed-in user (session auth; CSRF header on writes)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_wtf.csrf import generate_csrf

from app import accounts
from app.tokens.refresh import REFRESH_OUTCOMES, refresh_for_user
from app.web.shared import current_user_id, disconnect_account, login_required, shared

bp = Blueprint("api", __name__, url_prefix="/api")
EVENT_LIMIT_DEFAULT, EVENT_LIMIT_MAX = 50, 500
EVENT_STATUSES = {"pending", "processing", "done", "failed"}


def _not_found():
    return jsonify(error="account not found"), 404


@bp.get("/me")
@login_required
def me():
    with shared().pool.connection() as conn:
        user = accounts.get_user(conn, current_user_id())
    if user is None:
        return jsonify(error="authentication required"), 401
    # The CSRF token lets API clients send X-CSRFToken on writes.
    return jsonify(user=user, csrf_token=generate_csrf())


@bp.get("/accounts")
@login_required
def list_accounts():
    with shared().pool.connection() as conn:
        return jsonify(accounts=accounts.list_accounts(conn, current_user_id()))


@bp.get("/accounts/<account:account_id>")
@login_required
def get_account(account_id: str):
    with shared().pool.connection() as conn:
        account = accounts.get_account(conn, current_user_id(), account_id)
    return jsonify(account=account) if account else _not_found()


@bp.delete("/accounts/<account:account_id>")
@login_required
def delete_account(account_id: str):
    if not disconnect_account(current_user_id(), account_id):
        return _not_found()
    return jsonify(deleted=True, account_id=account_id)


@bp.post("/accounts/<account:account_id>/refresh")
@login_required
def refresh(account_id: str):
    objects = shared()
    result = refresh_for_user(objects.pool, objects.client(), objects.cipher, current_user_id(), account_id)
    if result is None:
        return _not_found()
    status, message = REFRESH_OUTCOMES[result.outcome]
    body = {"outcome": result.outcome, "message": message}
    if result.error is not None:
        body["error"] = {"code": result.error.code, "subcode": result.error.subcode, "message": result.error.message}
    with shared().pool.connection() as conn:
        body["account"] = accounts.get_account(conn, current_user_id(), account_id)
    return jsonify(body), status


@bp.get("/accounts/<account:account_id>/events")
@login_required
def events(account_id: str):
    limit = request.args.get("limit", EVENT_LIMIT_DEFAULT, type=int)
    status = request.args.get("status") or None
    if not 1 <= limit <= EVENT_LIMIT_MAX or (status and status not in EVENT_STATUSES):
        return jsonify(error=f"limit must be 1-{EVENT_LIMIT_MAX}; status one of {sorted(EVENT_STATUSES)}"), 400
    with shared().pool.connection() as conn:
        if accounts.get_account(conn, current_user_id(), account_id) is None:
            return _not_found()
        return jsonify(events=accounts.account_events(conn, account_id, limit, status))
