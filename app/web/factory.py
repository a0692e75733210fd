"""The Flask application factory: every feature's blueprints and the webhook
receiver on one app, with sessions, CSRF, rate limits and error pages."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

from flask import Flask, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from app.config import SERVICE_STARTED_AT, WEB, Config, config_or_exit
from app.db import DATABASE_UNAVAILABLE, UNAVAILABLE_MESSAGE, database_unavailable, make_pool
from app.logs import request_id_var, setup_logging, utc_iso
from app.ops import request_log
from app.ops import views as ops_views
from app.security import OAuthStateSigner, TokenCipher
from app.tokens import oauth
from app.web import api, auth, dashboard
from app.web.ratelimit import SCHEME as PG_LIMIT_SCHEME
from app.web.sessions import PostgresSessionInterface, raise_if_unavailable
from app.web.shared import EXTENSION_KEY, Shared, wants_json
from app.webhooks import receive

log = logging.getLogger(__name__)
SESSION_LIFETIME = dt.timedelta(days=7)


class AccountIdConverter(BaseConverter):
    """`<account:...>`: an Instagram account id in a URL. One with a control
    character (NUL, which PostgreSQL refuses in text) matches no route: 404."""

    regex = r"[^/\x00-\x1f\x7f]+"


class JSONProvider(DefaultJSONProvider):
    sort_keys = False  # keep documented key order, e.g. /health

    @staticmethod
    def default(o):
        if isinstance(o, dt.datetime):
            return utc_iso(o)
        return DefaultJSONProvider.default(o)


class App(Flask):
    def log_exception(self, exc_info) -> None:
        # PostgreSQL failing while the session is saved (after the view) is
        # answered 503 by failed_outside_a_view, and logged there in one line.
        if not isinstance(exc_info[1], DATABASE_UNAVAILABLE):
            super().log_exception(exc_info)


def _configure_sessions(app: Flask, config: Config, pool) -> None:
    app.secret_key = config.session_secret
    app.config.update(
        SESSION_COOKIE_NAME="icd_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.production,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.session_interface = PostgresSessionInterface(pool, config.session_idle_minutes,
                                                     config.anonymous_session_ttl_seconds)
    # Before the CSRF check: a session that could not be read answers 503, not "the form expired".
    app.before_request(raise_if_unavailable)
    # Runs before finish_request's hook (registered earlier, so run later):
    # a session that cannot be stored turns the answer into a 503, recorded once.
    app.after_request(app.session_interface.store)


def _limits_storage_uri(redis_url: str) -> str:
    """REDIS_URL as the limits library names it: redis-py's `unix://` is its `redis+unix://`."""
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


def _limiter(app: Flask, config: Config, pool) -> Limiter:
    if config.redis_url:
        storage_uri, options = _limits_storage_uri(config.redis_url), {}
    else:
        storage_uri, options = f"{PG_LIMIT_SCHEME}://", {"pool": pool}
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_uri, storage_options=options,
                      strategy="fixed-window", key_prefix="insta-connect")
    # Only submissions count: showing the form is free.
    for endpoint in ("auth.login", "auth.register"):
        app.view_functions[endpoint] = limiter.limit(config.auth_rate_limit, methods=["POST"])(
            app.view_functions[endpoint])
    return limiter


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        g.request_id = request_log.request_id(request.headers.get("X-Request-ID"))
        request_id_var.set(g.request_id)

    @app.after_request
    def finish_request(response):
        response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        request_log.record(request.method, request.path, route, response.status_code,
                       g.get("started", time.perf_counter()), request.remote_addr)
        return response

    @app.teardown_request
    def forget_request_id(exc):
        request_id_var.set(None)  # lines logged between requests must not inherit it


def _install_error_handlers(app: Flask) -> None:
    def render(status: int, message: str):
        if wants_json():
            return jsonify(error=message), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        log.warning("csrf check failed", extra={"reason": exc.description})
        return render(400, "The form expired or is missing its CSRF token. Reload the page and try again.")

    @app.errorhandler(429)
    def rate_limited(exc):
        log.warning("rate limited", extra={"remote_addr": request.remote_addr, "limit": str(exc.description)})
        return render(429, "Too many attempts. Wait a minute and try again.")

    @app.errorhandler(413)
    def too_large(exc):
        return render(413, "The request body is too large.")

    @app.errorhandler(DATABASE_UNAVAILABLE)
    def database_down(exc):
        database_unavailable(app.extensions[EXTENSION_KEY].pool, exc, f"{request.method} {request.path}")
        return render(503, UNAVAILABLE_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return render(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(InternalServerError)
    def failed_outside_a_view(exc):
        # What fails after the view (saving the session) reaches Flask's 500
        # handling rather than the handlers above.
        if isinstance(exc.original_exception, DATABASE_UNAVAILABLE):
            return database_down(exc.original_exception)
        return http_error(exc)

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error")
        return render(500, "Something went wrong on our side.")


def create_app(config: Config | None = None) -> Flask:
    config = config or config_or_exit(WEB)
    setup_logging(config)
    app = App(__name__)
    app.json = JSONProvider(app)
    app.config.update(MAX_CONTENT_LENGTH=config.max_body_bytes, WTF_CSRF_TIME_LIMIT=None)
    _install_request_hooks(app)  # first: the hooks and handlers after it log with the request id

    pool = make_pool(config)
    _configure_sessions(app, config, pool)
    shared = Shared(
        config=config, pool=pool, cipher=TokenCipher(config.token_encryption_key),
        states=OAuthStateSigner(config.oauth_state_secret), started_at=float(os.environ.get(SERVICE_STARTED_AT) or time.time()),
    )
    app.extensions[EXTENSION_KEY] = shared
    # Browsers ask for /favicon.ico on a first visit, whatever the pages link.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))
    app.url_map.converters["account"] = AccountIdConverter
    for module in (auth, dashboard, oauth, api, receive, ops_views):
        app.register_blueprint(module.bp)
    CSRFProtect(app)  # POST /webhook never reaches Flask: Meta signs its deliveries instead
    # Exactly one proxy (nginx) in front: trust one hop of X-Forwarded-*.
    app.wsgi_app = ProxyFix(receive.WebhookReceiver(app.wsgi_app, shared), x_for=1, x_proto=1, x_host=1)
    _limiter(app, config, pool)
    _install_error_handlers(app)
    log.info("app created", extra={"environment": config.node_env, "redis": bool(config.redis_url)})
    return app
