"""The token refresh service, started by hand, refreshes a due token against
the fake Meta API the sandbox runs (tests.fakemeta, on the machine side)."""

import json
import urllib.request
import uuid

import pytest

from app.security import TokenCipher

from deploys.lib.app_runtime import APP


def fake_meta(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", method=method, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.mark.proves("S3.2-token-refresh-works")
def test_token_refresh_service_refreshes_a_due_token(host, target, psql, sandbox_secrets):
    fake = target.data["meta_base_urls"]["INSTAGRAM_GRAPH_BASE"]
    app = APP
    cipher = TokenCipher(sandbox_secrets["TOKEN_ENCRYPTION_KEY"])
    marker = f"drill-{uuid.uuid4().hex[:12]}@example.test"
    account = fake_meta(fake, "POST", "/_control/accounts", {"username": "drill_refresh"})["user_id"]
    old_token = fake_meta(fake, "POST", "/_control/tokens", {"user_id": account, "expires_in": 5 * 86400})["token"]
    last_run = psql("SELECT coalesce(max(id), 0) FROM job_runs")[0][0]
    # A token issued two days ago that expires in five: due (at least 24 h old, inside the window).
    psql(f"""WITH u AS (INSERT INTO users (email, password_hash) VALUES ('{marker}', 'drill') RETURNING id),
                  a AS (INSERT INTO instagram_accounts (id, user_id, username)
                        SELECT '{account}', id, 'drill_refresh' FROM u RETURNING id)
             INSERT INTO access_tokens (account_id, token_ciphertext, expires_at, issued_at)
             SELECT id, '{cipher.encrypt(old_token)}', now() + interval '5 days', now() - interval '2 days' FROM a""")
    try:
        host.check_output("systemctl start %s-token-refresh.service", app)

        [[outcome]] = psql(f"SELECT outcome FROM token_refresh_log WHERE account_id = '{account}'")
        assert outcome == "refreshed"
        [[ciphertext, days_left, refreshed]] = psql(
            f"SELECT token_ciphertext, extract(day FROM expires_at - now())::int, last_refreshed_at IS NOT NULL "
            f"FROM access_tokens WHERE account_id = '{account}'")
        new_token = cipher.decrypt(ciphertext)
        assert new_token != old_token and refreshed == "t" and int(days_left) > 50
        calls = fake_meta(fake, "GET", "/_control/calls?path=/refresh_access_token")["calls"]
        assert any(call["query"].get("access_token") == old_token for call in calls)
        # The stored token is one Meta (the fake) accepts.
        with urllib.request.urlopen(f"{fake}/me?fields=user_id&access_token={new_token}", timeout=10) as me:
            assert json.loads(me.read())["user_id"] == account
    finally:
        psql(f"DELETE FROM users WHERE email = '{marker}'")
        psql(f"DELETE FROM token_refresh_log WHERE account_id = '{account}'")
        psql(f"DELETE FROM job_runs WHERE id > {last_run}")
