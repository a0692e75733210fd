"""A fake of Meta's Instagram API with Instagram Login, standard library only.

Run it on its own:   python -m tests.fakemeta --host 127.0.0.1 --port 8765
(prints one line, `fakemeta ready <base_url>`, then serves until killed), or
in-process:          fake = FakeMeta.start(); ...; fake.stop()

One server stands in for all three Meta hosts, at the same paths Meta uses,
so point the app's three base URLs at it (see `FakeMeta.app_env()`):

  INSTAGRAM_AUTHORIZE_URL = <base>/oauth/authorize      (www.instagram.com)
  INSTAGRAM_API_BASE      = <base>                      (api.instagram.com)
  INSTAGRAM_GRAPH_BASE    = <base>                      (graph.instagram.com)

Meta endpoints:
  GET  /oauth/authorize       plays the consenting user: 302 to redirect_uri
                              with ?code=...&state=...#_ , or with
                              ?error=access_denied&... when told to deny.
                              The user is `as_user=<id>` if given, else the
                              `authorize_user` setting, else a new account.
  POST /oauth/access_token    code -> short-lived token; answers
                              {"data":[{...}]} or flat, per `token_shape`.
                              Bad code / redirect_uri / secret: the old flat
                              error {"error_type","code","error_message"}.
  GET  /access_token          grant_type=ig_exchange_token -> long-lived token
  GET  /refresh_access_token  grant_type=ig_refresh_token -> new long-lived token
  GET  /me, /vNN.N/me         fields=... of the token's account
  POST /me/subscribed_apps    (also versioned) -> {"success": true}
Errors use Meta's body {"error":{"message","type","code","error_subcode",
"fbtrace_id"}}.  An unknown or expired token gets 190.

Control API (JSON in, JSON out), mirrored by methods of FakeMeta:
  POST   /_control/reset                 forget everything (but --app-secret)
  POST   /_control/accounts              {user_id?, username?, ...} -> profile
  POST   /_control/tokens                {user_id, token?, expires_in?} -> {token}
  POST   /_control/settings              {token_shape: data|flat, authorize_user,
                                          authorize_deny, expires_in, app_secret,
                                          refresh_same_token}
  POST   /_control/failures              {endpoint, user_id?, error, times?, delay?}
         endpoint: authorize|token|exchange|refresh|me|subscribe|*
         error: expired (190) | throttled (4) | server (HTTP 500, code 2) |
                html500 (HTTP 500, not JSON) | timeout (sleeps `delay`, default 5 s) |
                {"status", "code", "subcode", "message", "type"}
         times: how many matching calls fail (default: all)
  DELETE /_control/failures
  GET    /_control/calls[?path=/me]      calls received (method, path, query, form)
  DELETE /_control/calls
  GET    /_control/state                 accounts, subscriptions, settings
  POST   /_control/deliver               {url, app_secret, payload}: signs the
                                         payload like Meta and POSTs it to url
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

LONG_LIVED_SECONDS = 60 * 24 * 3600
SHORT_LIVED_SECONDS = 3600
VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")
ENDPOINTS = {"authorize", "token", "exchange", "refresh", "me", "subscribe", "*"}

PRESETS = {
    "expired": {"status": 400, "code": 190, "subcode": 463, "type": "OAuthException",
                "message": "Error validating access token: Session has expired."},
    "throttled": {"status": 400, "code": 4, "subcode": None, "type": "OAuthException",
                  "message": "Application request limit reached"},
    "server": {"status": 500, "code": 2, "subcode": None, "type": "OAuthException",
               "message": "An unexpected error has occurred. Please retry your request later."},
}


class FakeError(Exception):
    def __init__(self, status: int, body, content_type: str = "application/json"):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type


def graph_error(status: int, code: int, message: str, subcode=None, type_="OAuthException") -> FakeError:
    return FakeError(status, {"error": {"message": message, "type": type_, "code": code,
                                        "error_subcode": subcode, "fbtrace_id": secrets.token_hex(8)}})


def legacy_error(message: str) -> FakeError:
    return FakeError(400, {"error_type": "OAuthException", "code": 400, "error_message": message})


def sign(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header Meta would send."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class FakeMeta:
    def __init__(self, app_secret: str | None = None):
        self.default_app_secret = app_secret  # survives reset(): a start-up option
        self._lock = threading.RLock()
        self._ids = itertools.count(17841400000000001)
        self.server: ThreadingHTTPServer | None = None
        self.reset()

    # --- lifecycle -------------------------------------------------------
    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0, app_secret: str | None = None) -> "FakeMeta":
        fake = cls(app_secret)
        fake.server = ThreadingHTTPServer((host, port), _handler_for(fake))
        fake.server.daemon_threads = True
        threading.Thread(target=fake.server.serve_forever, name="fakemeta", daemon=True).start()
        return fake

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def app_env(self) -> dict:
        return {"INSTAGRAM_AUTHORIZE_URL": f"{self.base_url}/oauth/authorize",
                "INSTAGRAM_API_BASE": self.base_url, "INSTAGRAM_GRAPH_BASE": self.base_url}

    # --- control (in-process API; the HTTP control API calls these) ------
    def reset(self) -> None:
        with self._lock:
            self.accounts: dict[str, dict] = {}
            self.tokens: dict[str, dict] = {}
            self.codes: dict[str, dict] = {}
            self.subscriptions: dict[str, list] = {}
            self.failures: list[dict] = []
            self.call_log: list[dict] = []
            self.settings = {"token_shape": "data", "authorize_user": None, "authorize_deny": False,
                             "expires_in": LONG_LIVED_SECONDS, "app_secret": self.default_app_secret,
                             "refresh_same_token": False}

    def add_account(self, **profile) -> dict:
        with self._lock:
            user_id = str(profile.pop("user_id", None) or next(self._ids))
            account = self.accounts.setdefault(user_id, {
                "user_id": user_id, "id": str(int(hashlib.sha256(user_id.encode()).hexdigest()[:13], 16)),
                "username": f"user{user_id[-4:]}",
                "account_type": "BUSINESS", "profile_picture_url": f"https://example.invalid/{user_id}.jpg",
                "followers_count": 100, "media_count": 10})
            account.update(profile)
            return dict(account)

    def add_token(self, user_id: str, token: str | None = None, expires_in: int = LONG_LIVED_SECONDS,
                  kind: str = "long") -> str:
        with self._lock:
            self.add_account(user_id=user_id)
            token = token or f"IG{kind.upper()}-{user_id}-{secrets.token_hex(8)}"
            self.tokens[token] = {"user_id": str(user_id), "kind": kind, "expires_at": time.time() + expires_in}
            return token

    def configure(self, **settings) -> dict:
        with self._lock:
            unknown = set(settings) - set(self.settings)
            if unknown:
                raise ValueError(f"unknown settings {sorted(unknown)}")
            if settings.get("token_shape", "data") not in ("data", "flat"):
                raise ValueError("token_shape must be data or flat")
            self.settings.update(settings)
            return dict(self.settings)

    def fail(self, endpoint: str, error, user_id: str | None = None, times: int | None = None,
             delay: float = 5.0) -> dict:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(ENDPOINTS)}")
        if isinstance(error, str) and error not in (*PRESETS, "html500", "timeout"):
            raise ValueError(f"unknown error preset {error!r}")
        rule = {"endpoint": endpoint, "error": error, "user_id": str(user_id) if user_id else None,
                "times": times, "delay": delay}
        with self._lock:
            self.failures.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self.failures.clear()

    def calls(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [c for c in self.call_log if path is None or c["path"] == path]

    def clear_calls(self) -> None:
        with self._lock:
            self.call_log.clear()

    def state(self) -> dict:
        with self._lock:
            return {"accounts": list(self.accounts.values()), "subscriptions": dict(self.subscriptions),
                    "settings": dict(self.settings), "failures": list(self.failures)}

    @staticmethod
    def deliver(url: str, app_secret: str, payload) -> dict:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, body)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return {"status": response.status, "body": response.read().decode(errors="replace")}
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, "body": exc.read().decode(errors="replace")}

    # --- Meta behaviour ------------------------------------------------------
    def _maybe_fail(self, endpoint: str, user_id: str | None) -> None:
        with self._lock:
            rule = next((r for r in self.failures
                         if r["endpoint"] in (endpoint, "*") and r["user_id"] in (None, user_id)), None)
            if rule is None:
                return
            if rule["times"] is not None:
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.failures.remove(rule)
        error = rule["error"]
        if error == "timeout":
            time.sleep(rule["delay"])
            return  # then answer normally, too late for the client
        if error == "html500":
            raise FakeError(500, "<html><body>Internal Server Error</body></html>", "text/html")
        spec = PRESETS[error] if isinstance(error, str) else error
        raise graph_error(int(spec.get("status", 400)), int(spec["code"]), spec.get("message", "Fake error"),
                          spec.get("subcode"), spec.get("type", "OAuthException"))

    def _token_owner(self, token: str | None, kind: str | None = None) -> str:
        with self._lock:
            info = self.tokens.get(token or "")
        if info is None or (kind and info["kind"] != kind):
            raise graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if info["expires_at"] <= time.time():
            raise graph_error(400, 190, "Error validating access token: Session has expired.", 463)
        return info["user_id"]

    def authorize(self, query: dict) -> str:
        """Returns the Location the consenting user is sent to."""
        redirect_uri, state = query.get("redirect_uri"), query.get("state")
        if not redirect_uri or query.get("response_type") != "code" or not query.get("client_id"):
            raise FakeError(400, {"error": "client_id, redirect_uri and response_type=code are required"})
        if "instagram_business_basic" not in re.split(r"[,\s]+", query.get("scope", "")):
            raise FakeError(400, {"error": "scope must include instagram_business_basic"})
        with self._lock:
            deny = self.settings["authorize_deny"]
            user_id = query.get("as_user") or self.settings["authorize_user"] or self.add_account()["user_id"]
        self._maybe_fail("authorize", str(user_id))
        back = {"state": state} if state else {}
        if deny:
            back.update(error="access_denied", error_reason="user_denied",
                        error_description="The user denied your request.")
            return f"{redirect_uri}?{urlencode(back)}"
        self.add_account(user_id=user_id)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = {"user_id": str(user_id), "redirect_uri": redirect_uri,
                                "scope": query.get("scope", "")}
        return f"{redirect_uri}?{urlencode({'code': code, **back})}#_"

    def access_token(self, form: dict) -> dict:
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)
            secret = self.settings["app_secret"]
            shape = self.settings["token_shape"]
        if form.get("grant_type") != "authorization_code":
            raise legacy_error("Invalid grant_type")
        if grant is None:
            raise legacy_error("Invalid authorization code")
        if secret is not None and form.get("client_secret") != secret:
            raise legacy_error("Invalid client_secret")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            raise legacy_error("Error validating verification code. Please make sure your redirect_uri is "
                               "identical to the one you used in the OAuth dialog request")
        self._maybe_fail("token", grant["user_id"])
        token = self.add_token(grant["user_id"], expires_in=SHORT_LIVED_SECONDS, kind="short")
        scopes = [s for s in re.split(r"[,\s]+", grant["scope"]) if s]
        if shape == "flat":
            return {"access_token": token, "user_id": int(grant["user_id"]), "permissions": scopes}
        return {"data": [{"access_token": token, "user_id": grant["user_id"], "permissions": ",".join(scopes)}]}

    def _long_lived_answer(self, user_id: str, token: str | None = None) -> dict:
        expires_in = self.settings["expires_in"]
        token = self.add_token(user_id, token=token, expires_in=expires_in)
        return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}

    def exchange(self, query: dict) -> dict:
        if query.get("grant_type") != "ig_exchange_token":
            raise graph_error(400, 100, "Unsupported grant_type", type_="IGApiException")
        user_id = self._token_owner(query.get("access_token"), "short")
        secret = self.settings["app_secret"]
        if secret is not None and query.get("client_secret") != secret:
            raise graph_error(400, 101, "Error validating client secret.")
        self._maybe_fail("exchange", user_id)
        return self._long_lived_answer(user_id)

    def refresh(self, query: dict) -> dict:
        if query.get("grant_type") != "ig_refresh_token":
            raise graph_error(400, 100, "Unsupported grant_type", type_="IGApiException")
        user_id = self._token_owner(query.get("access_token"), "long")
        self._maybe_fail("refresh", user_id)
        same = query["access_token"] if self.settings["refresh_same_token"] else None
        return self._long_lived_answer(user_id, token=same)

    def me(self, query: dict) -> dict:
        user_id = self._token_owner(query.get("access_token"))
        self._maybe_fail("me", user_id)
        with self._lock:
            account = dict(self.accounts[user_id])
        fields = [f for f in query.get("fields", "id").split(",") if f]
        return {"id": account["id"], **{f: account[f] for f in fields if f in account}}

    def subscribe(self, query: dict) -> dict:
        user_id = self._token_owner(query.get("access_token"))
        self._maybe_fail("subscribe", user_id)
        fields = [f for f in query.get("subscribed_fields", "").split(",") if f]
        if not fields:
            raise graph_error(400, 100, "(#100) The parameter subscribed_fields is required.")
        with self._lock:
            self.subscriptions[user_id] = fields
        return {"success": True}


def _handler_for(fake: FakeMeta):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeMeta/1.0"

        def log_message(self, format, *args):  # quiet: tests read /_control/calls instead
            pass

        def _send(self, status: int, body, content_type="application/json", headers=None):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method: str):
            parts = urlsplit(self.path)
            path = VERSION_PREFIX.sub("", parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "")
            form = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()} \
                if "form-urlencoded" in ctype else {}
            if not path.startswith("/_control"):
                with fake._lock:
                    fake.call_log.append({"method": method, "path": path, "raw_path": parts.path,
                                          "query": query, "form": form, "time": time.time()})
            try:
                if path.startswith("/_control/"):
                    body = json.loads(raw or b"{}") if "json" in ctype or raw.startswith(b"{") else {}
                    self._send(200, self._control(method, path, query, body))
                elif (method, path) == ("GET", "/oauth/authorize"):
                    self._send(302, "", "text/plain", {"Location": fake.authorize(query)})
                else:
                    routes = {("POST", "/oauth/access_token"): lambda: fake.access_token(form or query),
                              ("GET", "/access_token"): lambda: fake.exchange(query),
                              ("GET", "/refresh_access_token"): lambda: fake.refresh(query),
                              ("GET", "/me"): lambda: fake.me(query),
                              ("POST", "/me/subscribed_apps"): lambda: fake.subscribe({**query, **form})}
                    route = routes.get((method, path))
                    if route is None:
                        raise graph_error(404, 803, f"Unknown path {path}", type_="IGApiException")
                    self._send(200, route())
            except FakeError as err:
                self._send(err.status, err.body, err.content_type)
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": f"bad control request: {exc}"})

        def _control(self, method: str, path: str, query: dict, body: dict):
            action = (method, path.removeprefix("/_control/"))
            if action == ("POST", "reset"):
                fake.reset()
                return {"ok": True}
            if action == ("POST", "accounts"):
                return fake.add_account(**body)
            if action == ("POST", "tokens"):
                return {"token": fake.add_token(**body)}
            if action == ("POST", "settings"):
                return fake.configure(**body)
            if action == ("POST", "failures"):
                return fake.fail(**body)
            if action == ("DELETE", "failures"):
                fake.clear_failures()
                return {"ok": True}
            if action == ("GET", "calls"):
                return {"calls": fake.calls(query.get("path"))}
            if action == ("DELETE", "calls"):
                fake.clear_calls()
                return {"ok": True}
            if action == ("GET", "state"):
                return fake.state()
            if action == ("POST", "deliver"):
                return fake.deliver(**body)
            raise KeyError(f"no control action {method} {path}")

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

        def do_DELETE(self):
            self._dispatch("DELETE")

    return Handler
