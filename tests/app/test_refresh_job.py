"""python -m app.jobs.refresh_tokens: what is due, the error classes, logging, exit status."""

import datetime as dt

from app.security import TokenCipher
from tests.app import helpers
from tests.app.helpers import ENCRYPTION_KEY, run_module, seed_account


def run_refresh(env, **overrides):
    return run_module("app.jobs.refresh_tokens", {**env, **{k: str(v) for k, v in overrides.items()}})


def account_state(db, account_id):
    return db.execute(
        """SELECT a.status, t.token_ciphertext, t.expires_at, t.last_refreshed_at
           FROM instagram_accounts a JOIN access_tokens t ON t.account_id = a.id WHERE a.id = %s""",
        (account_id,)).fetchone()


def log_rows(db, account_id):
    return db.execute("SELECT attempt, outcome, error_code, http_status FROM token_refresh_log "
                      "WHERE account_id = %s ORDER BY id", (account_id,)).fetchall()


def test_only_due_tokens_are_refreshed_and_stored(env, db, meta):
    due, token = seed_account(db, meta, username="due", issued_hours_ago=48, expires_in_days=5)
    too_young, _ = seed_account(db, meta, username="young", issued_hours_ago=2, expires_in_days=5)
    not_expiring, _ = seed_account(db, meta, username="far", issued_hours_ago=48, expires_in_days=30)
    reauth, _ = seed_account(db, meta, username="reauth", issued_hours_ago=48, expires_in_days=5,
                             status="needs_reauth")
    before = {a: account_state(db, a) for a in (too_young, not_expiring, reauth)}

    result = run_refresh(env)
    assert result.returncode == 0, result.stdout + result.stderr

    status, ciphertext, expires_at, refreshed_at = account_state(db, due)
    new_token = TokenCipher(ENCRYPTION_KEY).decrypt(ciphertext)
    assert status == "active" and new_token != token and new_token.startswith("IGLONG-")
    assert abs((expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds() - 60 * 86400) < 120
    assert refreshed_at is not None
    assert [c["query"]["access_token"] for c in meta.calls("/refresh_access_token")] == [token]
    assert meta.calls("/refresh_access_token")[0]["query"]["grant_type"] == "ig_refresh_token"
    for account_id, state in before.items():
        assert account_state(db, account_id) == state
    assert log_rows(db, due) == [(1, "refreshed", None, None)]
    run = db.execute("SELECT status, summary FROM job_runs WHERE job = 'refresh_tokens'").fetchone()
    assert run == ("ok", {"outcomes": {"refreshed": 1}})


def test_window_is_configurable(env, db, meta):
    account_id, _ = seed_account(db, meta, username="twenty", expires_in_days=20)
    assert run_refresh(env).returncode == 0
    assert log_rows(db, account_id) == []
    assert run_refresh(env, TOKEN_REFRESH_WINDOW_DAYS=25).returncode == 0
    assert log_rows(db, account_id) == [(1, "refreshed", None, None)]


def test_error_classes(env, db, meta):
    """One account per class; none of them stops the others."""
    accounts = {name: seed_account(db, meta, username=name)[0] for name in (
        "expired", "perm10", "perm200", "throttled4", "throttled613", "flaky500", "down500", "timeout",
        "weird", "fine")}
    meta.fail("refresh", "expired", user_id=accounts["expired"])
    meta.fail("refresh", {"status": 400, "code": 10, "message": "permission denied"}, user_id=accounts["perm10"])
    meta.fail("refresh", {"status": 403, "code": 200, "message": "permissions error"}, user_id=accounts["perm200"])
    meta.fail("refresh", "throttled", user_id=accounts["throttled4"])
    meta.fail("refresh", {"status": 400, "code": 613, "message": "rate"}, user_id=accounts["throttled613"])
    meta.fail("refresh", "server", user_id=accounts["flaky500"], times=1)     # then succeeds
    meta.fail("refresh", "html500", user_id=accounts["down500"])               # never recovers
    meta.fail("refresh", "timeout", user_id=accounts["timeout"], delay=1.0)
    meta.fail("refresh", {"status": 400, "code": 100, "message": "invalid parameter"}, user_id=accounts["weird"])

    result = run_refresh(env, TOKEN_REFRESH_RETRIES=3, META_HTTP_TIMEOUT_SECONDS=0.3)
    assert result.returncode == 1, "unexpected failures must make the job exit non-zero"

    status = dict(db.execute("SELECT username, status FROM instagram_accounts").fetchall())
    assert {name for name, s in status.items() if s == "needs_reauth"} == {"expired", "perm10", "perm200"}

    assert log_rows(db, accounts["expired"]) == [(1, "needs_reauth", 190, 400)]
    assert log_rows(db, accounts["perm200"]) == [(1, "needs_reauth", 200, 403)]
    assert log_rows(db, accounts["throttled4"]) == [(1, "deferred", 4, 400)]
    assert log_rows(db, accounts["throttled613"]) == [(1, "deferred", 613, 400)]
    assert log_rows(db, accounts["flaky500"]) == [(1, "retry", 2, 500), (2, "refreshed", None, None)]
    assert log_rows(db, accounts["down500"]) == [(1, "retry", None, 500), (2, "retry", None, 500),
                                                 (3, "failed", None, 500)]
    assert [r[1] for r in log_rows(db, accounts["timeout"])] == ["retry", "retry", "failed"]
    assert log_rows(db, accounts["weird"]) == [(1, "failed", 100, 400)]
    assert log_rows(db, accounts["fine"]) == [(1, "refreshed", None, None)]
    run = db.execute("SELECT status, summary->'outcomes' FROM job_runs").fetchone()
    assert run == ("failed", {"needs_reauth": 3, "deferred": 2, "refreshed": 2, "failed": 3})

    # Next run: reauth accounts are not retried; throttled and failed ones are.
    meta.clear_failures()
    meta.clear_calls()
    assert run_refresh(env).returncode == 0
    retried = {c["query"]["access_token"].split("-")[1] for c in meta.calls("/refresh_access_token")}
    assert retried == {accounts[n] for n in ("throttled4", "throttled613", "down500", "timeout", "weird")}


def test_only_throttling_exits_zero(env, db, meta):
    account_id, _ = seed_account(db, meta, username="busy")
    meta.fail("refresh", "throttled")
    assert run_refresh(env).returncode == 0
    assert db.execute("SELECT status FROM job_runs").fetchone() == ("ok",)
    assert db.execute("SELECT status FROM instagram_accounts").fetchone() == ("active",)


def test_an_undecryptable_token_fails_that_account_only(env, db, meta):
    broken, _ = seed_account(db, meta, username="broken")
    fine, _ = seed_account(db, meta, username="fine")
    db.execute("UPDATE access_tokens SET token_ciphertext = 'not-fernet' WHERE account_id = %s", (broken,))
    result = run_refresh(env)
    assert result.returncode == 1
    assert log_rows(db, broken) == [(1, "failed", None, None)]
    assert log_rows(db, fine) == [(1, "refreshed", None, None)]


def test_no_token_is_logged(env, db, meta, tmp_path):
    _, token = seed_account(db, meta, username="secretive")
    result = run_refresh(env)
    assert result.returncode == 0
    logs = result.stdout + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "token refresh refreshed" in logs
    assert token not in logs and helpers.APP_SECRET not in logs
