"""Users, connected Instagram accounts and their encrypted tokens."""

from __future__ import annotations

import datetime as dt

from psycopg.rows import dict_row

from app.tokens.meta import LongLivedToken

ACCOUNT_COLUMNS = """
    a.id, a.username, a.account_type, a.profile_picture_url, a.followers_count,
    a.media_count, a.status, a.status_reason, a.comments_count, a.messages_count,
    a.last_event_at, a.subscribed_at IS NOT NULL AS subscribed, a.connected_at,
    t.expires_at AS token_expires_at, t.last_refreshed_at AS token_last_refreshed_at,
    t.scopes AS token_scopes
"""
ACCOUNT_FROM = "instagram_accounts a LEFT JOIN access_tokens t ON t.account_id = a.id"


# --- users ---------------------------------------------------------------

def create_user(conn, email: str, password_hash: str) -> int | None:
    """New user id, or None when the email is taken."""
    row = conn.execute(
        """INSERT INTO users (email, password_hash) VALUES (%s, %s)
           ON CONFLICT ((lower(email))) DO NOTHING RETURNING id""",
        (email, password_hash),
    ).fetchone()
    return row[0] if row else None


def find_user_by_email(conn, email: str) -> dict | None:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT id, email, password_hash FROM users WHERE lower(email) = lower(%s)", (email,)
    ).fetchone()


def get_user(conn, user_id: int) -> dict | None:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT id, email, created_at, last_login_at FROM users WHERE id = %s", (user_id,)
    ).fetchone()


def record_login(conn, user_id: int) -> None:
    conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user_id,))


# --- accounts --------------------------------------------------------------

def upsert_account(conn, user_id: int, profile: dict, token: LongLivedToken,
                   scopes: list[str], cipher) -> str:
    """Connect (or reconnect) the account from /me and store its token, together."""
    account_id = profile["user_id"]
    with conn.transaction():
        conn.execute(
            """INSERT INTO instagram_accounts
                   (id, user_id, app_scoped_id, username, account_type, profile_picture_url,
                    followers_count, media_count)
               VALUES (%(id)s, %(user_id)s, %(app_scoped_id)s, %(username)s, %(account_type)s,
                       %(profile_picture_url)s, %(followers_count)s, %(media_count)s)
               ON CONFLICT (id) DO UPDATE SET
                   user_id = excluded.user_id, app_scoped_id = excluded.app_scoped_id,
                   username = excluded.username, account_type = excluded.account_type,
                   profile_picture_url = excluded.profile_picture_url,
                   followers_count = excluded.followers_count, media_count = excluded.media_count,
                   status = 'active', status_reason = NULL, updated_at = now()""",
            {
                "id": account_id, "user_id": user_id, "app_scoped_id": profile.get("id"),
                "username": profile.get("username") or account_id,
                "account_type": profile.get("account_type"),
                "profile_picture_url": profile.get("profile_picture_url"),
                "followers_count": profile.get("followers_count"),
                "media_count": profile.get("media_count"),
            },
        )
        conn.execute(
            """INSERT INTO access_tokens (account_id, token_ciphertext, token_type, scopes, expires_at, issued_at)
               VALUES (%s, %s, %s, %s, %s, now())
               ON CONFLICT (account_id) DO UPDATE SET
                   token_ciphertext = excluded.token_ciphertext, token_type = excluded.token_type,
                   scopes = excluded.scopes, expires_at = excluded.expires_at,
                   issued_at = now(), last_refreshed_at = NULL, updated_at = now()""",
            (account_id, cipher.encrypt(token.access_token), token.token_type, scopes, token.expires_at()),
        )
    return account_id


def mark_subscribed(conn, account_id: str) -> None:
    conn.execute("UPDATE instagram_accounts SET subscribed_at = now() WHERE id = %s", (account_id,))


def list_accounts(conn, user_id: int) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE a.user_id = %s ORDER BY a.username",
        (user_id,),
    ).fetchall()


def get_account(conn, user_id: int, account_id: str) -> dict | None:
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE a.user_id = %s AND a.id = %s",
        (user_id, account_id),
    ).fetchone()


def delete_account(conn, user_id: int, account_id: str) -> bool:
    """Disconnect: the account row goes, its tokens and pages cascade."""
    cur = conn.execute("DELETE FROM instagram_accounts WHERE user_id = %s AND id = %s", (user_id, account_id))
    return cur.rowcount == 1


def account_events(conn, account_id: str, limit: int, status: str | None = None) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT id, field, status, attempts, last_error, received_at, processed_at, payload
           FROM webhook_events
           WHERE account_id = %s AND (%s::text IS NULL OR status = %s)
           ORDER BY id DESC LIMIT %s""",
        (account_id, status, status, limit),
    ).fetchall()


# --- tokens ----------------------------------------------------------------

# A token is due for refresh when it is at least 24 h old (Meta refuses
# younger ones) and expires within the window.
_DUE = """a.status = 'active'
          AND t.issued_at <= now() - interval '24 hours'
          AND t.expires_at <= now() + make_interval(days => %(window)s::int)"""


def due_for_refresh(conn, window_days: int) -> list[str]:
    rows = conn.execute(
        f"""SELECT t.account_id FROM access_tokens t JOIN instagram_accounts a ON a.id = t.account_id
            WHERE {_DUE} ORDER BY t.expires_at""",
        {"window": window_days},
    ).fetchall()
    return [r[0] for r in rows]


def lock_token(conn, account_id: str, window_days: int | None = None) -> str | None:
    """Lock the account's token row for a refresh and return the ciphertext.

    With a window, only a token still due is returned (another run may have
    refreshed it meanwhile).  SKIP LOCKED: a refresh in progress elsewhere
    is left alone.
    """
    due = _DUE if window_days is not None else "true"
    row = conn.execute(
        f"""SELECT t.token_ciphertext FROM access_tokens t JOIN instagram_accounts a ON a.id = t.account_id
            WHERE t.account_id = %(id)s AND {due}
            FOR UPDATE OF t SKIP LOCKED""",
        {"id": account_id, "window": window_days},
    ).fetchone()
    return row[0] if row else None


def store_refreshed_token(conn, account_id: str, token: LongLivedToken, cipher) -> dt.datetime:
    """Store the new token; returns the expiry stored."""
    expires_at = token.expires_at()
    conn.execute(
        """UPDATE access_tokens SET token_ciphertext = %s, token_type = %s, expires_at = %s,
               issued_at = now(), last_refreshed_at = now(), updated_at = now()
           WHERE account_id = %s""",
        (cipher.encrypt(token.access_token), token.token_type, expires_at, account_id),
    )
    return expires_at


def mark_needs_reauth(conn, account_id: str, reason: str) -> None:
    conn.execute(
        """UPDATE instagram_accounts SET status = 'needs_reauth', status_reason = %s, updated_at = now()
           WHERE id = %s""",
        (reason[:500], account_id),
    )
