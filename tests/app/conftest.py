"""Fixtures for the app's fast tier: a real PostgreSQL, the fake Meta server,
the Flask test client, and (where a test needs one) real gunicorn or Redis."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `app` and `tests.*` import from the repo root
    sys.path.insert(0, str(REPO_ROOT))

from app.config import load_config  # noqa: E402
from app.migrate import discover, migrate  # noqa: E402
from app.web.factory import create_app  # noqa: E402
from tests.app import helpers  # noqa: E402
from tests.app.pgserver import PostgresServer, free_port  # noqa: E402
from tests.fakemeta import FakeMeta  # noqa: E402

TEMPLATE_DB = "insta_template"
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg():
    server = PostgresServer().start()
    with psycopg.connect(server.create_database(TEMPLATE_DB), autocommit=True) as conn:
        migrate(conn, discover())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_meta_server():
    fake = FakeMeta.start(app_secret=helpers.APP_SECRET)
    yield fake
    fake.stop()


@pytest.fixture
def meta(fake_meta_server):
    fake_meta_server.reset()
    return fake_meta_server


@pytest.fixture
def db_url(pg):
    """A fresh, migrated database for each test (a copy of the template)."""
    return pg.create_database(f"t{next(_db_numbers)}", template=TEMPLATE_DB)


@pytest.fixture
def db(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def env(db_url, meta, tmp_path):
    return helpers.app_env(db_url, meta, tmp_path / "logs")


@pytest.fixture
def make_app():
    """create_app(env) for any number of instances; pools closed afterwards."""
    apps = []

    def make(environ: dict):
        app = create_app(load_config(environ))
        apps.append(app)
        return app
    yield make
    for app in apps:
        app.extensions["insta_connect"].pool.close()


@pytest.fixture
def app(make_app, env):
    return make_app(env)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def user_client(client):
    """A test client with a registered, logged-in user."""
    helpers.register(client, "owner@example.com")
    return client


@pytest.fixture
def unlimited_client(make_app, env):
    """A client whose login and register submissions are not rate limited
    (for tests that submit many), with "owner@example.com" registered and
    logged out."""
    client = make_app({**env, "AUTH_RATE_LIMIT": "100000 per minute"}).test_client()
    helpers.register(client, "owner@example.com")
    helpers.logout(client)
    return client


@pytest.fixture
def connected(user_client, meta):
    """A logged-in client with one Instagram account connected through OAuth."""
    account = meta.add_account(username="shopfront", followers_count=1234, media_count=56)
    response = helpers.connect_account(user_client, meta, account["user_id"])
    assert response.status_code == 302, response.text
    return account


def _redis(url: str, *listen: str):
    """A redis-server listening as `listen` says, answering at `url`, until the generator ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    process = subprocess.Popen([binary, *listen, "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        helpers.wait_for(lambda: helpers.redis_ping(url), timeout=10, what="redis-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server():
    port = free_port()
    yield from _redis(f"redis://127.0.0.1:{port}/0", "--bind", "127.0.0.1", "--port", str(port))


@pytest.fixture(scope="session")
def redis_socket_server():
    """Redis on a unix socket only (no TCP); its REDIS_URL is unix://<path>."""
    directory = Path(tempfile.mkdtemp(prefix="insta-redis-"))  # short: socket paths are limited
    socket_path = directory / "redis.sock"
    try:
        yield from _redis(f"unix://{socket_path}?db=0", "--port", "0", "--unixsocket", str(socket_path),
                          "--unixsocketperm", "700")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
