"""Client for the Instagram API with Instagram Login.

Base URLs come from configuration so tests and the sandbox can point at the
fake server (tests/fakemeta).  Requests honours REQUESTS_CA_BUNDLE and the
*_PROXY variables.  Access tokens travel as query parameters, as Meta
documents, so URLs are never put into exceptions or logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

ME_FIELDS = "user_id,username,account_type,profile_picture_url,followers_count,media_count"

# Error classes of the refresh job (issue 3); the kinds are what callers act on.
REAUTH = "reauth"          # 190, 10, 200-299: the user must connect again
THROTTLED = "throttled"    # 4, 17, 32, 613, 80002, 341: try on the next run
TRANSIENT = "transient"    # 1, 2, HTTP 5xx, timeouts: retry with backoff
UNEXPECTED = "unexpected"  # anything else: fail loudly

_THROTTLE_CODES = {4, 17, 32, 341, 613, 80002}
# Long-lived tokens last 60 days; an expires_in beyond a year is not a real
# answer (and a huge one would overflow the expiry date).
MAX_EXPIRES_IN_SECONDS = 366 * 86400
_TRANSIENT_CODES = {1, 2}


def classify(code: int | None, http_status: int | None) -> str:
    if code is not None:
        if code in (190, 10) or 200 <= code <= 299:
            return REAUTH
        if code in _THROTTLE_CODES:
            return THROTTLED
        if code in _TRANSIENT_CODES:
            return TRANSIENT
    if http_status is not None and http_status >= 500:
        return TRANSIENT
    return UNEXPECTED


class MetaError(Exception):
    def __init__(self, message: str, *, code=None, subcode=None, http_status=None, kind=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.kind = kind or classify(code, http_status)

    def as_log(self) -> dict:
        return {"error_code": self.code, "error_subcode": self.subcode,
                "http_status": self.http_status, "kind": self.kind, "error": self.message}


@dataclass(frozen=True)
class LongLivedToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"

    def expires_at(self, now: dt.datetime | None = None) -> dt.datetime:
        return (now or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(seconds=self.expires_in)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _error_from_body(body, http_status: int) -> MetaError:
    """Both error shapes: Graph {"error": {...}} and the older flat one of
    api.instagram.com {"error_type", "code", "error_message"}."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return MetaError(str(err.get("message") or "Meta API error"), code=_int_or_none(err.get("code")),
                         subcode=_int_or_none(err.get("error_subcode")), http_status=http_status)
    if isinstance(body, dict) and ("error_message" in body or "error_type" in body):
        code = _int_or_none(body.get("code"))
        # Here `code` repeats the HTTP status; it is not a Graph error code.
        return MetaError(str(body.get("error_message") or body.get("error_type")),
                         code=None if code == http_status else code, http_status=http_status)
    return MetaError(f"HTTP {http_status} from Meta", http_status=http_status)


class InstagramClient:
    def __init__(self, config, session: requests.Session | None = None):
        self.config = config
        self.session = session or requests.Session()
        self.timeout = config.meta_http_timeout_seconds
        version = config.instagram_graph_version.strip("/")
        self.graph = config.instagram_graph_base + (f"/{version}" if version else "")

    # --- the browser leg -------------------------------------------------
    def authorize_url(self, state: str) -> str:
        query = {
            "client_id": self.config.app_id,
            "redirect_uri": self.config.oauth_redirect_uri,
            "response_type": "code",
            "scope": ",".join(self.config.oauth_scopes),
            "state": state,
        }
        return f"{self.config.instagram_authorize_url}?{urlencode(query)}"

    # --- server-to-server calls ------------------------------------------
    def exchange_code(self, code: str) -> dict:
        """Short-lived token; accepts {"data": [{...}]} and the flat shape."""
        body = self._call("POST", f"{self.config.instagram_api_base}/oauth/access_token", data={
            "client_id": self.config.app_id,
            "client_secret": self.config.app_secret,
            "grant_type": "authorization_code",
            "redirect_uri": self.config.oauth_redirect_uri,
            "code": code,
        })
        if isinstance(body.get("data"), list) and body["data"]:
            body = body["data"][0]
        if not isinstance(body, dict) or not body.get("access_token"):
            raise MetaError("token response without access_token", kind=UNEXPECTED)
        permissions = body.get("permissions") or []
        if isinstance(permissions, str):
            permissions = [p for p in permissions.split(",") if p]
        return {"access_token": body["access_token"], "user_id": str(body.get("user_id", "")),
                "permissions": list(permissions)}

    def exchange_long_lived(self, short_token: str) -> LongLivedToken:
        return self._long_lived(self._call("GET", f"{self.config.instagram_graph_base}/access_token", params={
            "grant_type": "ig_exchange_token",
            "client_secret": self.config.app_secret,
            "access_token": short_token,
        }))

    def refresh(self, token: str) -> LongLivedToken:
        return self._long_lived(self._call("GET", f"{self.config.instagram_graph_base}/refresh_access_token", params={
            "grant_type": "ig_refresh_token",
            "access_token": token,
        }))

    def me(self, token: str) -> dict:
        body = self._call("GET", f"{self.graph}/me", params={"fields": ME_FIELDS, "access_token": token})
        if not body.get("user_id"):
            raise MetaError("/me returned no user_id", kind=UNEXPECTED)
        body["user_id"] = str(body["user_id"])
        return body

    def subscribe(self, token: str) -> None:
        body = self._call("POST", f"{self.graph}/me/subscribed_apps", params={
            "subscribed_fields": ",".join(self.config.webhook_subscribed_fields),
            "access_token": token,
        })
        if body.get("success") is not True:
            raise MetaError("subscribed_apps did not report success", kind=UNEXPECTED)

    # --- plumbing -----------------------------------------------------------
    def _long_lived(self, body: dict) -> LongLivedToken:
        token, expires_in = body.get("access_token"), _int_or_none(body.get("expires_in"))
        if not token or not expires_in or expires_in <= 0:
            raise MetaError("token response without access_token/expires_in", kind=UNEXPECTED)
        if expires_in > MAX_EXPIRES_IN_SECONDS:
            raise MetaError(f"token response with an implausible expires_in ({expires_in} s, more than "
                            f"{MAX_EXPIRES_IN_SECONDS} s)", kind=UNEXPECTED)
        return LongLivedToken(token, expires_in, str(body.get("token_type") or "bearer"))

    def _call(self, method: str, url: str, params=None, data=None) -> dict:
        try:
            response = self.session.request(method, url, params=params, data=data, timeout=self.timeout)
        except requests.Timeout:
            raise MetaError("timeout talking to Meta", kind=TRANSIENT) from None
        except requests.RequestException as exc:
            # The message of a requests exception contains the URL (and token).
            raise MetaError(f"cannot reach Meta ({type(exc).__name__})", kind=TRANSIENT) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise _error_from_body(body, response.status_code)
        if not isinstance(body, dict):
            raise MetaError(f"non-JSON answer from Meta (HTTP {response.status_code})",
                            http_status=response.status_code, kind=UNEXPECTED)
        return body

