"""Server-side sessions in PostgreSQL, and `python -m app.web.sessions end --email ADDRESS`.

The cookie holds only a random id (256 bits) signed with SESSION_SECRET; the
`sessions` table holds a SHA-256 of that id, the data and the user, so
deleting a row ends the session at once, wherever its cookie is: logout,
the operator's command (end_user_sessions, which a password change would call
too).  A session also ends

- when it is cleared (login, logout): the next save gives it a new id,
  which rules out session fixation;
- SESSION_IDLE_MINUTES after its last request (last_seen_at is written at
  most once a minute, not on every request);
- at its absolute end: 7 days after login, or ANONYMOUS_SESSION_TTL_SECONDS
  for a session nobody is logged in to (the CSRF token of /login and
  /register, a flash message).

The webhook processor's housekeeping deletes ended rows (delete_ended).
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys

import psycopg
from flask import current_app, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from app import accounts
from app.config import ADMIN, config_or_exit
from app.db import DATABASE_UNAVAILABLE, connect

LAST_SEEN_RESOLUTION_SECONDS = 60
# A session is live while both hold; a row that fails them is ended, only not yet deleted.
LIVE = "expires_at > now() AND last_seen_at > now() - make_interval(mins => %(idle)s)"
# One round trip: the data of a live session, and its last_seen_at moved on when over a minute old.
OPEN_SQL = f"""
    WITH live AS (SELECT id_hash, data, last_seen_at FROM sessions WHERE id_hash = %(hash)s AND {LIVE}),
    seen AS (UPDATE sessions s SET last_seen_at = now() FROM live
             WHERE s.id_hash = live.id_hash
               AND live.last_seen_at < now() - make_interval(secs => {LAST_SEEN_RESOLUTION_SECONDS}))
    SELECT data::text FROM live"""


def id_hash(sid: str) -> bytes:
    return hashlib.sha256(sid.encode()).digest()


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid: str | None = None, unavailable: Exception | None = None):
        def on_update(self):
            self.modified = True
        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False
        self.rotate = False  # clear() (login, logout): a new id when stored
        self.new_id_expires_at = None  # set by store() when it gave the session a new id
        # Set when PostgreSQL could not be reached for this session: the request
        # answers 503 (raise_if_unavailable, app.web.factory) and nothing is saved.
        self.unavailable = unavailable

    def clear(self) -> None:
        super().clear()
        self.rotate = True


class PostgresSessionInterface(SessionInterface):
    serializer = TaggedJSONSerializer()

    def __init__(self, pool, idle_minutes: int, anonymous_ttl_seconds: int):
        self.pool = pool
        self.idle_minutes = idle_minutes
        self.anonymous_ttl = anonymous_ttl_seconds

    def _signer(self, app) -> Signer:
        return Signer(app.secret_key, salt="session-id")

    def _execute(self, sql: str, params):
        """The first row the statement returns, if it returns rows."""
        with self.pool.connection() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def open_session(self, app, request) -> ServerSession:
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return ServerSession()
        try:
            sid = self._signer(app).unsign(cookie).decode()
        except BadSignature:
            return ServerSession()
        try:
            row = self._execute(OPEN_SQL, {"hash": id_hash(sid), "idle": self.idle_minutes})
        except DATABASE_UNAVAILABLE as exc:
            return ServerSession(unavailable=exc)
        if row is None:
            ended = ServerSession()
            ended.modified = True  # so its cookie is deleted, unless the request starts a new session
            return ended
        return ServerSession(self.serializer.loads(row[0]), sid=sid)

    def store(self, response):
        """Write what changed to PostgreSQL.  An after_request hook (app.web.factory),
        so that a failure here is answered 503 and recorded once, like any
        other; save_session, which Flask calls after the hooks, only sets the cookie."""
        if session.unavailable or not (session.modified or session.rotate):
            return response
        try:
            self._write(current_app, session)
        except DATABASE_UNAVAILABLE as exc:
            session.unavailable = exc  # the error page that reports it writes nothing again
            raise
        return response

    def _write(self, app, session: ServerSession) -> None:
        if session.sid and (session.rotate or not session):
            self._execute("DELETE FROM sessions WHERE id_hash = %s", (id_hash(session.sid),))
            session.sid = None
        if not session:
            return
        data = self.serializer.dumps(dict(session))
        if session.sid:
            # No row comes back to life: a session ended meanwhile (logout elsewhere) stays ended.
            self._execute("UPDATE sessions SET data = %s::jsonb, user_id = %s WHERE id_hash = %s",
                          (data, session.get("user_id"), id_hash(session.sid)))
            return
        lifetime = app.permanent_session_lifetime.total_seconds() if session.permanent else self.anonymous_ttl
        session.sid = secrets.token_urlsafe(32)
        session.new_id_expires_at = self._execute(
            """INSERT INTO sessions (id_hash, user_id, data, expires_at)
               VALUES (%s, %s, %s::jsonb, now() + make_interval(secs => %s)) RETURNING expires_at""",
            (id_hash(session.sid), session.get("user_id"), data, lifetime),
        )[0]

    def save_session(self, app, session: ServerSession, response) -> None:
        if session.unavailable or not (session.modified or session.rotate):
            return
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if not session:
            response.delete_cookie(name, domain=domain, path=path)
        elif session.new_id_expires_at:
            # Sent once per id; a logged-in one expires with the session's absolute lifetime.
            response.set_cookie(
                name, self._signer(app).sign(session.sid).decode(),
                expires=session.new_id_expires_at if session.permanent else None,
                httponly=self.get_cookie_httponly(app), domain=domain, path=path,
                secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
            )


def raise_if_unavailable() -> None:
    """A before_request hook: a session PostgreSQL could not open answers 503 (app.web.factory's handler)."""
    if session.unavailable:
        raise session.unavailable


def end_user_sessions(conn, user_id: int) -> int:
    return conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,)).rowcount


def delete_ended(conn, idle_minutes: int) -> int:
    return conn.execute(f"DELETE FROM sessions WHERE NOT ({LIVE})", {"idle": idle_minutes}).rowcount


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m app.web.sessions", description="Sessions kept on the server.")
    commands = parser.add_subparsers(dest="command", required=True)
    end = commands.add_parser("end", help="end every session of one user: logged out on every device")
    end.add_argument("--email", required=True)
    args = parser.parse_args()
    config = config_or_exit(ADMIN)
    try:
        with connect(config, "insta-connect-sessions", autocommit=True) as conn:
            user = accounts.find_user_by_email(conn, args.email)
            ended = end_user_sessions(conn, user["id"]) if user else 0
    except psycopg.Error as exc:  # one line for the operator, not a traceback
        print(f"sessions error: {type(exc).__name__}: {exc}".strip(), file=sys.stderr)
        return 1
    if user is None:
        print(f"sessions error: no user with email {args.email}", file=sys.stderr)
        return 1
    print(f"ended {ended} session{'' if ended == 1 else 's'} of {user['email']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
