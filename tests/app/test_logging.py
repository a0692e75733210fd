"""JSON-line logs: files, request ids, retention, and no secrets."""

import datetime as dt
import json

import pytest

from tests.app import helpers
from tests.app.helpers import VERIFY_TOKEN, post_webhook


def read_lines(log_dir, prefix):
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    path = log_dir / f"{prefix}-{today}.log"
    assert path.exists(), f"{path.name} missing; have {sorted(p.name for p in log_dir.iterdir())}"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_combined_log_has_json_lines_with_request_ids(client, tmp_path):
    response = client.get("/health", headers={"X-Request-ID": "req-0123456789"})
    assert response.status_code == 200
    lines = read_lines(tmp_path / "logs", "combined")
    access = [line for line in lines if line.get("path") == "/health"]
    assert access and access[0]["request_id"] == "req-0123456789"
    assert access[0]["status"] == 200 and access[0]["level"] == "info"
    assert helpers.ISO_MS_Z.match(access[0]["timestamp"])


def test_errors_go_to_the_error_log_too(client, db, tmp_path):
    post_webhook(client, b"{}", signature="sha256=00")           # refused: a warning
    # Storing will now fail, and not because the database is unreachable (that is a 503): an error.
    db.execute("DROP TABLE webhook_events CASCADE")
    assert post_webhook(client, helpers.changes_payload("1784", "x")).status_code == 500
    errors = read_lines(tmp_path / "logs", "error")
    assert [line["message"] for line in errors] == ["unhandled error"]
    assert "UndefinedTable" in errors[0]["exception"] and errors[0]["request_id"]
    combined = read_lines(tmp_path / "logs", "combined")
    assert any(line["message"] == "webhook rejected" for line in combined)
    assert any(line["message"] == "unhandled error" for line in combined)


def test_old_log_files_are_deleted_at_start(make_app, env, tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    today = dt.datetime.now(dt.timezone.utc).date()
    old = [f"combined-{today - dt.timedelta(days=15)}.log", f"error-{today - dt.timedelta(days=30)}.log"]
    kept = [f"combined-{today - dt.timedelta(days=13)}.log", "error-not-a-date.log", "other.txt"]
    for name in old + kept:
        (log_dir / name).write_text("{}\n")
    make_app(env)
    remaining = {p.name for p in log_dir.iterdir()}
    assert not remaining & set(old)
    assert set(kept) <= remaining


def test_retention_is_configurable(make_app, env, tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    today = dt.datetime.now(dt.timezone.utc).date()
    (log_dir / f"combined-{today - dt.timedelta(days=3)}.log").write_text("{}\n")
    make_app({**env, "LOG_RETENTION_DAYS": "2"})
    assert not (log_dir / f"combined-{today - dt.timedelta(days=3)}.log").exists()


def test_secrets_never_reach_the_logs(connected, user_client, meta, tmp_path, capsys):
    # Query strings with secrets: the webhook handshake and the OAuth callback.
    user_client.get(f"/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42")
    user_client.get(f"/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}-wrong&hub.challenge=42")
    helpers.login(user_client, "owner@example.com", "a wrong password")
    meta.fail("me", "server")
    helpers.connect_account(user_client, meta)
    text = capsys.readouterr().out + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "oauth token exchange failed" in text   # the failure is logged...
    tokens = [t for t in meta.tokens]
    codes = [c["form"]["code"] for c in meta.calls("/oauth/access_token")]
    secrets = [helpers.APP_SECRET, VERIFY_TOKEN, helpers.SESSION_SECRET, helpers.STATE_SECRET,
               helpers.ENCRYPTION_KEY, helpers.PASSWORD, "a wrong password", *tokens, *codes]
    for secret in secrets:                          # ...without any of these
        assert secret not in text, f"{secret[:6]}... was logged"
    assert "state=" not in text and "code=" not in text


@pytest.mark.proves("S12.1-tail-error-log")
def test_the_days_error_log_exists_before_its_first_error(tmp_path, client):
    client.get("/health")  # an access line: the day's combined log, and its error log beside it
    today = dt.datetime.now(dt.timezone.utc).date()
    error_log = tmp_path / "logs" / f"error-{today}.log"
    assert (tmp_path / "logs" / f"combined-{today}.log").stat().st_size > 0
    assert error_log.exists() and error_log.stat().st_size == 0
