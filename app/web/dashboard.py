"""The signed-in user's page: connected accounts and what can be done with them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from app import accounts
from app.tokens.refresh import REFRESH_OUTCOMES, refresh_for_user
from app.web.forms import ActionForm
from app.web.shared import current_user_id, disconnect_account, login_required, shared

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    user_id = current_user_id()
    with shared().pool.connection() as conn:
        user = accounts.get_user(conn, user_id)
        connected = accounts.list_accounts(conn, user_id)
    return render_template("dashboard.html", user=user, accounts=connected, form=ActionForm())


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.post("/accounts/<account:account_id>/disconnect")
@login_required
def disconnect(account_id: str):
    _checked_form()
    if not disconnect_account(current_user_id(), account_id):
        abort(404)
    flash("Account disconnected; its tokens were deleted.")
    return redirect(url_for("dashboard.index"))


@bp.post("/accounts/<account:account_id>/refresh")
@login_required
def refresh(account_id: str):
    _checked_form()
    objects = shared()
    result = refresh_for_user(objects.pool, objects.client(), objects.cipher, current_user_id(), account_id)
    if result is None:
        abort(404)
    flash(REFRESH_OUTCOMES[result.outcome][1])
    return redirect(url_for("dashboard.index"))
