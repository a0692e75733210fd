"""python -m app.tokens.job: what is due, the error classes, logging, exit status."""

import datetime as dt

import pytest

from app.security import TokenCipher
from tests.app import helpers
from tests.app.helpers import ENCRYPTION_KEY, run_module, seed_account


def run_refresh(env, **overrides):
    return run_module("app.tokens.job", {**env, **{k: str(v) for k, v in overrides.items()}})


def account_state(db, account_id):
    return db.execute(
        """SELECT a.status, t.token_ciphertext, t.expires_at, t.last_refreshed_at
           FROM instagram_accounts a JOIN access_tokens t ON t.account_id = a.id WHERE a.id = %s""",
        (account_id,)).fetchone()


def log_rows(db, account_id):
    return db.execute("SELECT attempt, outcome, error_code, http_status FROM token_refresh_log "
                      "WHERE account_id = %s ORDER BY id", (account_id,)).fetchall()


@pytest.mark.proves("S3.2-token-refresh-works")
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
    account_id, token = seed_account(db, meta, username="secretive")
    result = run_refresh(env, LOG_LEVEL="debug")
    assert result.returncode == 0
    new_token = TokenCipher(ENCRYPTION_KEY).decrypt(account_state(db, account_id)[1])
    assert new_token != token
    logs = result.stdout + result.stderr + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "token refresh refreshed" in logs
    for secret in (token, new_token, helpers.APP_SECRET):
        assert secret not in logs
    # Nor in the attempt log.
    assert not db.execute("SELECT 1 FROM token_refresh_log WHERE message LIKE %s OR message LIKE %s",
                          (f"%{token}%", f"%{new_token}%")).fetchall()


def test_transient_errors_are_retried_after_growing_delays(env, db, meta):
    account_id, _ = seed_account(db, meta, username="backoff")
    meta.fail("refresh", "server")
    result = run_refresh(env, TOKEN_REFRESH_RETRIES=3, TOKEN_REFRESH_RETRY_BASE_SECONDS=0.4)
    assert result.returncode == 1
    # What Meta saw: three calls, 0.4 s then 0.8 s apart.
    seen = [c["time"] for c in meta.calls("/refresh_access_token")]
    assert len(seen) == 3
    gaps = [later - earlier for earlier, later in zip(seen, seen[1:])]
    assert 0.4 <= gaps[0] < 0.4 + 0.5, gaps
    assert 0.8 <= gaps[1] < 0.8 + 0.5, gaps
    # What the log recorded: each attempt at the time it was made.
    rows = db.execute("SELECT attempt, outcome, extract(epoch FROM created_at)::float8 FROM token_refresh_log "
                      "WHERE account_id = %s ORDER BY attempt", (account_id,)).fetchall()
    assert [r[:2] for r in rows] == [(1, "retry"), (2, "retry"), (3, "failed")]
    logged_gaps = [later[2] - earlier[2] for earlier, later in zip(rows, rows[1:])]
    assert logged_gaps[0] >= 0.4 and logged_gaps[1] >= 0.8, logged_gaps


# Codes the document names, and the edges of the 200-299 range.
CODE_OUTCOMES = {
    17: [(1, "deferred")], 32: [(1, "deferred")], 80002: [(1, "deferred")], 341: [(1, "deferred")],
    1: [(1, "retry"), (2, "refreshed")],
    200: [(1, "needs_reauth")], 299: [(1, "needs_reauth")],
    199: [(1, "failed")], 300: [(1, "failed")],
}


def test_each_documented_error_code(env, db, meta):
    accounts = {code: seed_account(db, meta, username=f"code{code}")[0] for code in CODE_OUTCOMES}
    for code, account_id in accounts.items():
        meta.fail("refresh", {"status": 400, "code": code, "message": f"error {code}"}, user_id=account_id,
                  times=1 if code == 1 else None)
    result = run_refresh(env)
    assert result.returncode == 1      # 199 and 300 are unexpected
    for code, account_id in accounts.items():
        assert [r[:2] for r in log_rows(db, account_id)] == CODE_OUTCOMES[code], code
        assert log_rows(db, account_id)[0][2] == code
    status = dict(db.execute("SELECT username, status FROM instagram_accounts").fetchall())
    assert {name for name, s in status.items() if s == "needs_reauth"} == {"code200", "code299"}


def test_an_unexpected_error_fails_that_account_only_and_its_attempts_stay_logged(env, db, meta):
    """A database error inside one account's transaction (here a trigger
    refusing its token update, after a first attempt that Meta answered 500):
    that account fails, its attempts are logged, the others are refreshed,
    and the job exits 1."""
    broken, token = seed_account(db, meta, username="broken", expires_in_days=1)  # refreshed first
    fine, _ = seed_account(db, meta, username="fine", expires_in_days=5)
    db.execute(f"""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN IF NEW.account_id = '{broken}' THEN RAISE EXCEPTION 'disk on fire'; END IF;
                   RETURN NEW; END $$""")
    db.execute("CREATE TRIGGER refuse BEFORE UPDATE ON access_tokens FOR EACH ROW EXECUTE FUNCTION refuse()")
    before = account_state(db, broken)
    meta.fail("refresh", "server", user_id=broken, times=1)

    result = run_refresh(env)
    assert result.returncode == 1
    assert log_rows(db, broken) == [(1, "retry", 2, 500), (2, "failed", None, None)]
    message = db.execute("SELECT message FROM token_refresh_log WHERE account_id = %s AND attempt = 2",
                         (broken,)).fetchone()[0]
    assert "disk on fire" in message and token not in message
    assert account_state(db, broken) == before
    assert log_rows(db, fine) == [(1, "refreshed", None, None)]
    run = db.execute("SELECT status, summary->'outcomes' FROM job_runs").fetchone()
    assert run == ("failed", {"failed": 1, "refreshed": 1})
    assert "disk on fire" in result.stdout     # with its traceback, for the operator


@pytest.mark.parametrize("expires_in", [10 ** 12, 400 * 86400])
def test_an_absurd_expires_in_is_rejected(env, db, meta, expires_in):
    account_id, _ = seed_account(db, meta, username="forever")
    before = account_state(db, account_id)
    meta.configure(expires_in=expires_in)
    result = run_refresh(env)
    assert result.returncode == 1
    assert log_rows(db, account_id) == [(1, "failed", None, None)]
    message = db.execute("SELECT message FROM token_refresh_log").fetchone()[0]
    assert "expires_in" in message
    assert account_state(db, account_id) == before
