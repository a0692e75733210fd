"""Configuration, read from the environment only.

Every entry point (gunicorn, migrate, jobs) calls `config_or_exit(process)`, which
turns the first missing or malformed variable into one line on stderr,
e.g. `config error: TOKEN_ENCRYPTION_KEY is missing`, and exit status 2.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
import sys
from typing import Callable, Mapping
from urllib.parse import urlsplit

EXIT_CONFIG_ERROR = 2
BASE_SCOPE = "instagram_business_basic"
LOG_LEVELS = {
    # Node/winston names are accepted too, so the document's .env keeps working.
    "silly": "DEBUG", "debug": "DEBUG", "verbose": "DEBUG", "http": "INFO",
    "info": "INFO", "warn": "WARNING", "warning": "WARNING",
    "error": "ERROR", "critical": "CRITICAL",
}
MIN_SECRET_LENGTH = 16
# Set by gunicorn's master when the service starts (app/gunicorn.conf.py), inherited by
# every worker, a reload's included: /health's uptime is the service's, in every worker.
SERVICE_STARTED_AT = "SERVICE_STARTED_AT"
PLACEHOLDER_PREFIX = "replace-with-"  # how app/.env.example marks what must be filled in


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""


# --- value parsers: each takes the raw string and returns the value or
# raises ValueError with the reason (the variable name is added by the caller).

def _str(raw: str) -> str:
    return raw


def _secret(raw: str) -> str:
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
    return raw


def _number_range(convert: Callable[[str], float], what: str, low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str):
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(f"must be {what}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    return _number_range(int, "an integer", low, high)


def _float_range(low: float, high: float) -> Callable[[str], float]:
    return _number_range(float, "a number", low, high)


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return raw
    return parse


def _log_level(raw: str) -> str:
    try:
        return LOG_LEVELS[raw.lower()]
    except KeyError:
        raise ValueError("must be one of " + ", ".join(LOG_LEVELS)) from None


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in schemes:
            raise ValueError("must be a URL starting with " + " or ".join(s + "://" for s in schemes))
        if parts.scheme in ("http", "https") and not parts.netloc:
            raise ValueError("must include a host")
        return raw
    return parse


def _base_url(raw: str) -> str:
    # Paths are appended to these, so a trailing slash would double up.
    return _url("https", "http")(raw).rstrip("/")


def _fernet_key(raw: str) -> str:
    try:
        key = base64.urlsafe_b64decode(raw.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("must be a Fernet key (url-safe base64 of 32 bytes)") from None
    if len(key) != 32:
        raise ValueError("must be a Fernet key (url-safe base64 of 32 bytes)")
    return raw


def _scopes(raw: str) -> tuple[str, ...]:
    extra = [s for s in re.split(r"[,\s]+", raw) if s]
    for scope in extra:
        if not re.fullmatch(r"[a-z_]+", scope):
            raise ValueError(f"scope {scope!r} is not a valid scope name")
    return tuple(dict.fromkeys([BASE_SCOPE, *extra]))


def _fields(raw: str) -> tuple[str, ...]:
    fields = tuple(f for f in re.split(r"[,\s]+", raw) if f)
    if not fields or not all(re.fullmatch(r"[a-z_]+", f) for f in fields):
        raise ValueError("must be a comma-separated list of webhook field names")
    return fields


def _rate_limit(raw: str) -> str:
    # Flask-Limiter notation, e.g. "5 per minute;50 per hour".
    part = r"\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*"
    if not re.fullmatch(rf"{part}([;,]{part})*", raw):
        raise ValueError('must look like "5 per minute;50 per hour"')
    return raw


# The app's processes. Each reads only the secrets it uses: the deploy gives
# each one's unit an environment file holding just those (env_file_names).
WEB = "web"  # gunicorn: pages, OAuth, webhooks
TOKEN_REFRESH = "token-refresh"  # python -m app.tokens.job
WEBHOOK_PROCESSOR = "webhook-processor"  # python -m app.webhooks.job
ADMIN = "admin"  # python -m app.migrate and the operator commands (python -m app.web.sessions)
PROCESSES = (WEB, TOKEN_REFRESH, WEBHOOK_PROCESSOR, ADMIN)


@dataclasses.dataclass(frozen=True)
class Var:
    name: str
    parse: Callable[[str], object]
    default: str | None = None  # None: required
    secret: bool = False
    used_by: tuple[str, ...] = PROCESSES  # the processes that read it
    supplied: bool = False  # the operator supplies it (Doppler, the environment, secrets_file); the deploy copies it


VARS = [
    Var("NODE_ENV", _choice("production", "development")),
    Var("PORT", _int_range(1, 65535), "3000"),  # only without systemd's socket (a developer's gunicorn)
    Var("DATABASE_URL", _url("postgresql", "postgres"), secret=True),
    Var("LOG_LEVEL", _log_level),
    Var("APP_ID", _str, supplied=True),
    Var("APP_SECRET", _str, secret=True, used_by=(WEB,), supplied=True),
    Var("OAUTH_REDIRECT_URI", _url("https", "http")),
    Var("VERIFY_TOKEN", _str, secret=True, used_by=(WEB,), supplied=True),
    Var("OAUTH_STATE_SECRET", _secret, secret=True, used_by=(WEB,), supplied=True),
    Var("SESSION_SECRET", _secret, secret=True, used_by=(WEB,), supplied=True),
    Var("TOKEN_ENCRYPTION_KEY", _fernet_key, secret=True, used_by=(WEB, TOKEN_REFRESH), supplied=True),
    Var("LOG_DIR", _str, "./logs"),
    Var("LOG_RETENTION_DAYS", _int_range(1, 3650), "14"),
    Var("REDIS_URL", _url("redis", "rediss", "unix"), "", secret=True, used_by=(WEB,)),
    Var("ANONYMOUS_SESSION_TTL_SECONDS", _int_range(60, 7 * 86400), "3600"),
    Var("SESSION_IDLE_MINUTES", _int_range(5, 7 * 24 * 60), "30"),
    Var("OAUTH_SCOPES", _scopes, ""),
    Var("WEBHOOK_SUBSCRIBED_FIELDS", _fields, "comments,messages"),
    Var("INSTAGRAM_AUTHORIZE_URL", _url("https", "http"), "https://www.instagram.com/oauth/authorize"),
    Var("INSTAGRAM_API_BASE", _base_url, "https://api.instagram.com"),
    Var("INSTAGRAM_GRAPH_BASE", _base_url, "https://graph.instagram.com"),
    Var("INSTAGRAM_GRAPH_VERSION", _str, "v23.0"),
    Var("META_HTTP_TIMEOUT_SECONDS", _positive_float, "10"),
    Var("AUTH_RATE_LIMIT", _rate_limit, "5 per minute;30 per hour"),
    Var("MAX_BODY_BYTES", _int_range(1024, 64 * 1024 * 1024), "1048576"),
    Var("DB_POOL_MAX_SIZE", _int_range(1, 100), "4"),
    Var("DB_POOL_TIMEOUT_SECONDS", _float_range(0.1, 60), "2"),
    Var("TOKEN_REFRESH_WINDOW_DAYS", _int_range(1, 59), "10"),
    Var("TOKEN_REFRESH_RETRIES", _int_range(1, 10), "3"),
    Var("TOKEN_REFRESH_RETRY_BASE_SECONDS", _positive_float, "2"),
    Var("WEBHOOK_BATCH_SIZE", _int_range(1, 10000), "500"),
    Var("WEBHOOK_MAX_ATTEMPTS", _int_range(1, 100), "5"),
    Var("WEBHOOK_RETRY_BASE_SECONDS", _positive_float, "30"),
    Var("WEBHOOK_CLAIM_STALE_SECONDS", _positive_float, "300"),
    Var("WEBHOOK_PROCESSOR_MAX_SECONDS", _positive_float, "240"),
    Var("WEBHOOK_EVENT_RETENTION_DAYS", _int_range(1, 3650), "30"),
]


SUPPLIED = tuple(var.name for var in VARS if var.supplied)


def new_value(name: str) -> str:
    """A fresh random value the app accepts for a supplied variable (a sandbox's, or a first production secret)."""
    var = next(var for var in VARS if var.name == name)
    if var.parse is _fernet_key:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


@dataclasses.dataclass(frozen=True)
class Config:
    node_env: str
    port: int
    database_url: str
    log_level: str
    app_id: str
    app_secret: str
    oauth_redirect_uri: str
    verify_token: str
    oauth_state_secret: str
    session_secret: str
    token_encryption_key: str
    log_dir: str
    log_retention_days: int
    redis_url: str
    anonymous_session_ttl_seconds: int
    session_idle_minutes: int
    oauth_scopes: tuple
    webhook_subscribed_fields: tuple
    instagram_authorize_url: str
    instagram_api_base: str
    instagram_graph_base: str
    instagram_graph_version: str
    meta_http_timeout_seconds: float
    auth_rate_limit: str
    max_body_bytes: int
    db_pool_max_size: int
    db_pool_timeout_seconds: float
    token_refresh_window_days: int
    token_refresh_retries: int
    token_refresh_retry_base_seconds: float
    webhook_batch_size: int
    webhook_max_attempts: int
    webhook_retry_base_seconds: float
    webhook_claim_stale_seconds: float
    webhook_processor_max_seconds: float
    webhook_event_retention_days: int

    @property
    def production(self) -> bool:
        return self.node_env == "production"

    def secret_values(self) -> list[str]:
        """Values that must never appear in a log line."""
        return [getattr(self, v.name.lower()) for v in VARS if v.secret and getattr(self, v.name.lower())]


def environment_for(process: str, environ: Mapping[str, str]) -> dict[str, str]:
    """environ without the variables `process` does not read: the other processes' secrets."""
    unused = {var.name for var in VARS if process not in var.used_by}
    return {name: value for name, value in environ.items() if name not in unused}


def load_config(environ: Mapping[str, str] | None = None, process: str = WEB) -> Config:
    """The configuration `process` runs with; what it does not read is None."""
    env = os.environ if environ is None else environ
    values = {}
    for var in VARS:
        if process not in var.used_by:
            values[var.name.lower()] = None
            continue
        raw = env.get(var.name, "").strip()
        if not raw:
            if var.default is None:
                raise ConfigError(f"{var.name} is missing")
            raw = var.default
        if raw.startswith(PLACEHOLDER_PREFIX):
            raise ConfigError(f"{var.name} is malformed: still the placeholder from .env.example")
        try:
            values[var.name.lower()] = var.parse(raw) if raw else raw
        except ValueError as exc:
            raise ConfigError(f"{var.name} is malformed: {exc}") from None
    if not values["oauth_scopes"]:
        values["oauth_scopes"] = (BASE_SCOPE,)
    return Config(**values)


def _check_log_dir(config: Config) -> None:
    try:
        os.makedirs(config.log_dir, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"LOG_DIR {config.log_dir} cannot be created: {exc.strerror}") from None
    if not os.access(config.log_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"LOG_DIR {config.log_dir} is not writable")


def config_or_exit(process: str, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration of an entry point, whose log directory must be usable too."""
    try:
        config = load_config(environ, process)
        _check_log_dir(config)
        return config
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
