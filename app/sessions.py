"""Server-side sessions in Redis, used when REDIS_URL is set.

The cookie holds only a random session id signed with SESSION_SECRET; the
data lives under `session:<id>`, so several app instances share sessions and
a logout ends the session everywhere.  A logged-in (permanent) session's key
lives as long as the session lifetime (7 days); an anonymous one's, which
every visit to /login or /register creates for its CSRF token, only
ANONYMOUS_SESSION_TTL_SECONDS (an hour).  Clearing a session (login, logout) also changes its id, which
rules out session fixation.  Without Redis, Flask's signed-cookie session
is used instead (see app.web).
"""

from __future__ import annotations

import secrets

from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

KEY_PREFIX = "session:"


class RedisSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid: str | None = None):
        def on_update(self):
            self.modified = True
        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False
        self.rotate = False

    def clear(self) -> None:
        super().clear()
        self.rotate = True


class RedisSessionInterface(SessionInterface):
    serializer = TaggedJSONSerializer()

    def __init__(self, redis_client, anonymous_ttl_seconds: int):
        self.redis = redis_client
        self.anonymous_ttl = anonymous_ttl_seconds

    def ttl(self, app, session: RedisSession) -> int:
        if session.permanent:  # set at login (app.views.auth)
            return int(app.permanent_session_lifetime.total_seconds())
        return self.anonymous_ttl

    def _signer(self, app) -> Signer:
        return Signer(app.secret_key, salt="redis-session-id")

    def open_session(self, app, request):
        cookie = request.cookies.get(self.get_cookie_name(app))
        if cookie:
            try:
                sid = self._signer(app).unsign(cookie).decode()
            except BadSignature:
                return RedisSession()
            data = self.redis.get(KEY_PREFIX + sid)
            if data is not None:
                return RedisSession(self.serializer.loads(data.decode()), sid=sid)
        return RedisSession()

    def save_session(self, app, session: RedisSession, response) -> None:
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.rotate and session.sid:
            self.redis.delete(KEY_PREFIX + session.sid)
            session.sid = None
        if not session:
            if session.modified or session.rotate:
                response.delete_cookie(name, domain=domain, path=path)
            return
        if not (session.modified or session.rotate or self.should_set_cookie(app, session)):
            return
        session.sid = session.sid or secrets.token_urlsafe(32)
        self.redis.set(KEY_PREFIX + session.sid, self.serializer.dumps(dict(session)), ex=self.ttl(app, session))
        response.set_cookie(
            name, self._signer(app).sign(session.sid).decode(),
            expires=self.get_expiration_time(app, session), httponly=self.get_cookie_httponly(app),
            domain=domain, path=path, secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )
