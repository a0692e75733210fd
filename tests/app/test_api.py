"""The JSON API: session auth, ownership, CSRF on writes, disconnect, refresh, events."""

import pytest

from app.security import TokenCipher
from tests.app import helpers
from tests.app.helpers import ENCRYPTION_KEY, api_headers, post_webhook


def test_api_needs_a_session(client):
    for method, path in (("get", "/api/me"), ("get", "/api/accounts"), ("get", "/api/accounts/1"),
                         ("get", "/api/accounts/1/events")):
        response = getattr(client, method)(path)
        assert response.status_code == 401 and response.get_json() == {"error": "authentication required"}


@pytest.mark.proves("S1-app-parts")
def test_me_and_accounts(connected, user_client):
    me = user_client.get("/api/me").get_json()
    assert me["user"]["email"] == "owner@example.com" and me["csrf_token"]
    assert "password_hash" not in me["user"]
    listed = user_client.get("/api/accounts").get_json()["accounts"]
    assert [a["id"] for a in listed] == [connected["user_id"]]
    one = user_client.get(f"/api/accounts/{connected['user_id']}").get_json()["account"]
    assert one["username"] == "shopfront" and one["status"] == "active" and one["subscribed"] is True
    assert one["token_expires_at"].endswith("Z")
    assert not any("token" in key and "cipher" in key for key in one)
    assert user_client.get("/api/accounts/12345").status_code == 404


def test_accounts_of_other_users_are_invisible(connected, user_client, make_app, env):
    other = make_app(env).test_client()
    helpers.register(other, "other@example.com")
    account_id = connected["user_id"]
    assert other.get("/api/accounts").get_json() == {"accounts": []}
    assert other.get(f"/api/accounts/{account_id}").status_code == 404
    assert other.get(f"/api/accounts/{account_id}/events").status_code == 404
    assert other.delete(f"/api/accounts/{account_id}", headers=api_headers(other)).status_code == 404
    assert other.post(f"/api/accounts/{account_id}/refresh", headers=api_headers(other)).status_code == 404
    assert user_client.get(f"/api/accounts/{account_id}").status_code == 200


@pytest.mark.proves("S10.2-csrf")
def test_writes_need_the_csrf_header(connected, user_client, db):
    account_id = connected["user_id"]
    assert user_client.delete(f"/api/accounts/{account_id}").status_code == 400
    assert user_client.post(f"/api/accounts/{account_id}/refresh").status_code == 400
    assert user_client.delete(f"/api/accounts/{account_id}", headers={"X-CSRFToken": "nope"}).status_code == 400
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0] == 1


def test_delete_disconnects_and_deletes_tokens(connected, user_client, db):
    account_id = connected["user_id"]
    response = user_client.delete(f"/api/accounts/{account_id}", headers=api_headers(user_client))
    assert response.status_code == 200 and response.get_json() == {"deleted": True, "account_id": account_id}
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM access_tokens").fetchone()[0] == 0
    assert user_client.get(f"/api/accounts/{account_id}").status_code == 404


def current_token(db, account_id) -> str:
    ciphertext = db.execute("SELECT token_ciphertext FROM access_tokens WHERE account_id = %s",
                            (account_id,)).fetchone()[0]
    return TokenCipher(ENCRYPTION_KEY).decrypt(ciphertext)


def test_refresh_stores_the_new_token(connected, user_client, meta, db):
    account_id = connected["user_id"]
    before = current_token(db, account_id)
    response = user_client.post(f"/api/accounts/{account_id}/refresh", headers=api_headers(user_client))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "refreshed" and body["account"]["token_last_refreshed_at"]
    after = current_token(db, account_id)
    assert after != before and after.startswith("IGLONG-")
    assert meta.calls("/refresh_access_token")[0]["query"]["access_token"] == before
    log = db.execute("SELECT outcome, attempt FROM token_refresh_log").fetchall()
    assert log == [("refreshed", 1)]


def test_refresh_of_an_expired_token_marks_needs_reauth(connected, user_client, meta, db):
    account_id = connected["user_id"]
    meta.fail("refresh", "expired", user_id=account_id)
    response = user_client.post(f"/api/accounts/{account_id}/refresh", headers=api_headers(user_client))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == 190
    assert response.get_json()["account"]["status"] == "needs_reauth"


def test_refresh_when_throttled_is_429(connected, user_client, meta):
    meta.fail("refresh", "throttled")
    response = user_client.post(f"/api/accounts/{connected['user_id']}/refresh", headers=api_headers(user_client))
    assert response.status_code == 429 and response.get_json()["account"]["status"] == "active"


def test_events_of_an_account(connected, user_client):
    account_id = connected["user_id"]
    post_webhook(user_client, helpers.changes_payload(account_id, "e-1", "e-2"))
    post_webhook(user_client, helpers.changes_payload("someone-else", "e-3"))
    events = user_client.get(f"/api/accounts/{account_id}/events").get_json()["events"]
    assert [e["payload"]["value"]["id"] for e in events] == ["e-2", "e-1"]   # newest first
    assert {e["status"] for e in events} == {"pending"}
    assert user_client.get(f"/api/accounts/{account_id}/events?limit=1").get_json()["events"][0]["payload"][
        "value"]["id"] == "e-2"
    assert user_client.get(f"/api/accounts/{account_id}/events?status=done").get_json() == {"events": []}
    assert user_client.get(f"/api/accounts/{account_id}/events?status=bogus").status_code == 400
    assert user_client.get(f"/api/accounts/{account_id}/events?limit=0").status_code == 400


def test_dashboard_lists_account_and_its_buttons_work(connected, user_client, db):
    page = user_client.get("/").get_data(as_text=True)
    assert "@shopfront" in page and "Refresh token" in page and "Disconnect" in page
    token = helpers.CSRF_PATTERN.search(page).group(1)
    account_id = connected["user_id"]
    assert user_client.post(f"/accounts/{account_id}/refresh").status_code == 400   # no CSRF
    refreshed = user_client.post(f"/accounts/{account_id}/refresh", data={"csrf_token": token})
    assert refreshed.status_code == 302 and "Token refreshed." in user_client.get("/").get_data(as_text=True)
    gone = user_client.post(f"/accounts/{account_id}/disconnect", data={"csrf_token": token})
    assert gone.status_code == 302
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0] == 0


def test_an_account_id_with_control_characters_is_not_found(connected, user_client):
    """A NUL reached PostgreSQL (which refuses it in text) and answered 500 to a logged-in user."""
    headers = api_headers(user_client)
    for bad in ("a%00b", "%00", "a%0Ab", "%7F"):
        assert user_client.get(f"/api/accounts/{bad}").status_code == 404, bad
        assert user_client.get(f"/api/accounts/{bad}/events").status_code == 404, bad
        assert user_client.delete(f"/api/accounts/{bad}", headers=headers).status_code == 404, bad
        assert user_client.post(f"/api/accounts/{bad}/refresh", headers=headers).status_code == 404, bad
