"""Register, login and logout pages (rate limits are attached in app.web.factory)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from app import accounts
from app.security import hash_password, verify_password
from app.web.forms import CONTROL_CHARACTERS, ActionForm, LoginForm, RegisterForm
from app.web.shared import current_user_id, shared

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """target when a browser would take it to a path on this site, else the dashboard.

    "//host" or "https://..." would be an open redirect.  Read as a browser
    reads a URL (WHATWG): it trims spaces and takes "\\" for "/", so " //host"
    and "/\\host" are off-site too.  Control characters, which it drops or
    trims as well, were refused before this."""
    path = (target or "").strip(" ").replace("\\", "/")
    if path.startswith("/") and not path.startswith("//"):
        return path
    return url_for("dashboard.index")


def _log_refused(form) -> None:
    # Field names only: the values may be passwords.
    log.warning("form refused", extra={"form": request.endpoint, "invalid": sorted(form.errors)})


def _start_session(user_id: int) -> None:
    session.clear()  # a fresh session (and id) at every login
    session.permanent = True
    session["user_id"] = user_id


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        with shared().pool.connection() as conn:
            user_id = accounts.create_user(conn, form.email.data.strip(), hash_password(form.password.data))
        if user_id is None:
            form.email.errors.append("That email is already registered.")
        else:
            log.info("user registered", extra={"user_id": user_id})
            _start_session(user_id)
            return redirect(url_for("dashboard.index"))
    elif form.is_submitted():
        _log_refused(form)
    status = 400 if request.method == "POST" else 200
    return render_template("register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_target = request.args.get("next")
    if next_target and CONTROL_CHARACTERS.search(next_target):
        # Refused, not ignored: "/\t/host" is "//host" to a browser, and CR/LF cannot go in a header.
        log.warning("login refused", extra={"reason": "control characters in next"})
        abort(400, "The next parameter contains control characters.")
    form = LoginForm()
    if form.validate_on_submit():
        with shared().pool.connection() as conn:
            user = accounts.find_user_by_email(conn, form.email.data.strip())
            ok = verify_password(user["password_hash"] if user else None, form.password.data)
            if ok:
                accounts.record_login(conn, user["id"])
        if ok:
            log.info("user logged in", extra={"user_id": user["id"]})
            _start_session(user["id"])
            return redirect(_safe_next(next_target))
        log.warning("failed login", extra={"remote_addr": request.remote_addr})
        form.password.errors.append("Wrong email or password.")
    elif form.is_submitted():
        _log_refused(form)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        user_id = current_user_id()
        session.clear()
        if user_id is not None:
            log.info("user logged out", extra={"user_id": user_id})
        flash("You are logged out.")
        return redirect(url_for("auth.login"))
    return render_template("logout.html", form=form, logged_in=current_user_id() is not None)
