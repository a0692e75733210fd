"""Shared test helpers: configuration, browser steps, signed webhooks, processes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

from tests.app.pgserver import free_port
from tests.fakemeta import sign

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN_ARGV = [str(Path(sys.executable).with_name("gunicorn")), "--config",
                 str(REPO_ROOT / "app" / "gunicorn.conf.py"), "app.wsgi:app"]
APP_ID = "990602627938098"
APP_SECRET = "test-app-secret-0123456789"
VERIFY_TOKEN = "test-verify-token-abcdef"
STATE_SECRET = "test-oauth-state-secret-0123456789"
SESSION_SECRET = "test-session-secret-0123456789"
ENCRYPTION_KEY = Fernet.generate_key().decode()
REDIRECT_URI = "https://insta.example.test/oauth/callback"
PASSWORD = "correct horse battery"
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def app_env(db_url: str, meta, log_dir: Path, **overrides) -> dict:
    env = {
        "NODE_ENV": "development", "PORT": "3000", "DATABASE_URL": db_url, "LOG_LEVEL": "info",
        "APP_ID": APP_ID, "APP_SECRET": APP_SECRET, "OAUTH_REDIRECT_URI": REDIRECT_URI,
        "VERIFY_TOKEN": VERIFY_TOKEN, "OAUTH_STATE_SECRET": STATE_SECRET, "SESSION_SECRET": SESSION_SECRET,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY, "LOG_DIR": str(log_dir),
        "META_HTTP_TIMEOUT_SECONDS": "2", "TOKEN_REFRESH_RETRY_BASE_SECONDS": "0.05",
        **meta.app_env(),
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def process_env(app_environ: dict) -> dict:
    """The environment for a subprocess (job, migrate, gunicorn) of the app."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    return {**keep, "PYTHONPATH": str(REPO_ROOT), **app_environ}


# --- browser steps -------------------------------------------------------------

def csrf_token(client, path: str = "/login") -> str:
    match = CSRF_PATTERN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def register(client, email: str, password: str = PASSWORD):
    response = client.post("/register", data={"email": email, "password": password, "confirm": password,
                                              "csrf_token": csrf_token(client, "/register")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def login(client, email: str, password: str = PASSWORD, **kwargs):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs)


def logout(client):
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/logout")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def refused_once(caplog, message: str) -> None:
    """Hostile input is logged once, as a warning without a traceback, and nothing louder is."""
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage()) for r in records] == [("WARNING", message)]
    assert records[0].exc_info is None


def follow_authorize(client, meta, as_user: str | None = None, start_path: str = "/oauth/start") -> str:
    """/oauth/start, then the fake's consent screen; returns the callback path+query."""
    start = client.get(start_path)
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    location = start.headers["Location"]
    assert location.startswith(meta.base_url + "/oauth/authorize?")
    if as_user:
        location += f"&as_user={as_user}"
    consent = requests.get(location, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT_URI
    return f"{back.path}?{back.query}"


def connect_account(client, meta, as_user: str | None = None):
    return client.get(follow_authorize(client, meta, as_user))


def api_headers(client) -> dict:
    return {"X-CSRFToken": client.get("/api/me").get_json()["csrf_token"]}


# --- webhooks ----------------------------------------------------------------------

def comment_payload(account_id: str, comment_id: str, text: str = "nice!", time_: int = 1_700_000_000) -> dict:
    """Business Login shape: field/value directly on the entry."""
    return {"object": "instagram", "entry": [{
        "id": account_id, "time": time_, "field": "comments",
        "value": {"id": comment_id, "text": text, "from": {"id": "9001", "username": "fan"},
                  "media": {"id": "1790000001", "media_product_type": "FEED"}}}]}


def changes_payload(account_id: str, *comment_ids: str) -> dict:
    """Graph API shape: entry.changes[]."""
    return {"object": "instagram", "entry": [{
        "id": account_id, "time": 1_700_000_100,
        "changes": [{"field": "comments", "value": {"id": cid, "text": f"c{cid}", "from": {"id": "9002"}}}
                    for cid in comment_ids]}]}


def message_payload(account_id: str, *mids: str) -> dict:
    return {"object": "instagram", "entry": [{
        "id": account_id, "time": 1_700_000_200_000,
        "messaging": [{"sender": {"id": "5001"}, "recipient": {"id": account_id},
                       "timestamp": 1_700_000_200_000, "message": {"mid": mid, "text": f"hi {mid}"}}
                      for mid in mids]}]}


def post_webhook(client, payload, secret: str = APP_SECRET, signature: str | None = None, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature is None:
        signature = sign(secret, body)
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhook", data=body, content_type="application/json", headers=headers)


def count_events(db) -> int:
    return db.execute("SELECT count(*) FROM webhook_events").fetchone()[0]


def drain(env: dict, **overrides) -> dict:
    """One in-process run of the webhook processor, as the job does it."""
    import psycopg

    from app.config import load_config
    from app.webhooks.process import Processor
    config = load_config({**env, **{k: str(v) for k, v in overrides.items()}})
    with psycopg.connect(config.database_url, autocommit=True) as conn:
        return Processor(conn, config).drain(time.monotonic() + 30, time.monotonic)


# --- database seeding for job tests ------------------------------------------------

def seed_account(db, meta, *, username: str, issued_hours_ago: float = 48, expires_in_days: float = 5,
                 status: str = "active", email: str = "seed@example.com") -> tuple[str, str]:
    """An account with a token known to the fake; returns (account id, token)."""
    from app.security import TokenCipher
    user_id = db.execute(
        """INSERT INTO users (email, password_hash) VALUES (%s, 'x')
           ON CONFLICT ((lower(email))) DO UPDATE SET email = excluded.email RETURNING id""", (email,)
    ).fetchone()[0]
    account_id = meta.add_account(username=username)["user_id"]
    token = meta.add_token(account_id, expires_in=int(max(expires_in_days, 0.001) * 86400))
    now = dt.datetime.now(dt.timezone.utc)
    db.execute("INSERT INTO instagram_accounts (id, user_id, username, status) VALUES (%s, %s, %s, %s)",
               (account_id, user_id, username, status))
    db.execute(
        """INSERT INTO access_tokens (account_id, token_ciphertext, expires_at, issued_at, created_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (account_id, TokenCipher(ENCRYPTION_KEY).encrypt(token), now + dt.timedelta(days=expires_in_days),
         now - dt.timedelta(hours=issued_hours_ago), now - dt.timedelta(hours=issued_hours_ago)),
    )
    return account_id, token


# --- processes ----------------------------------------------------------------------

def run_module(module: str, app_environ: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], env=process_env(app_environ), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def redis_ping(url: str) -> bool:
    import redis
    try:
        return redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except redis.RedisError:
        return False


class Gunicorn:
    """The real server, as the systemd unit runs it."""

    def __init__(self, app_environ: dict, log_path: Path, **extra_env):
        self.port = int(app_environ["PORT"])
        self.env = process_env({**app_environ, **extra_env})
        self.log_path = log_path
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Gunicorn":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(GUNICORN_ARGV, cwd=REPO_ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            try:
                return requests.get(self.url + "/health", timeout=5).status_code in (200, 503)
            except requests.RequestException:  # not listening yet, or no worker booted yet
                return False
        try:
            wait_for(up, timeout, "gunicorn to answer")
        except BaseException:
            self.stop()  # never leave a server behind
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def dead_database_app(make_app, env: dict, **settings: str):
    """The app with DATABASE_URL where nothing listens (and any other settings)."""
    return make_app({**env, **settings, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/gone"})


def break_pooled_connections(app, db) -> int:
    """What a PostgreSQL restart does to a worker's pool: three idle connections
    (as a worker holds after some load), all then ended by the server. Returns
    how many backends were ended."""
    pool = app.extensions["insta_connect"].pool
    with pool.connection(), pool.connection(), pool.connection():
        pass
    assert pool.get_stats()["pool_available"] >= 3
    return db.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
