"""The fake Meta server on its own, as the sandbox uses it: a process driven over HTTP."""

import hashlib
import hmac
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from tests.app.helpers import REPO_ROOT
from tests.app.pgserver import free_port


@pytest.fixture(scope="module")
def fake_process():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fakemeta", "--host", "127.0.0.1", "--port", str(port),
                                "--app-secret", "s3cret"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    ready = process.stdout.readline()
    assert ready == f"fakemeta ready http://127.0.0.1:{port}\n"
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    assert process.wait(timeout=10) == 0


@pytest.fixture
def base(fake_process):
    requests.post(f"{fake_process}/_control/reset", timeout=5).raise_for_status()
    return fake_process


def control(base, method, action, **body):
    response = requests.request(method, f"{base}/_control/{action}", json=body or None, timeout=5)
    response.raise_for_status()
    return response.json()


def test_control_api_drives_errors_per_account(base):
    account = control(base, "POST", "accounts", username="driven")
    token = control(base, "POST", "tokens", user_id=account["user_id"])["token"]
    me = requests.get(f"{base}/v23.0/me", params={"fields": "user_id,username", "access_token": token}, timeout=5)
    assert me.json() == {"id": account["id"], "user_id": account["user_id"], "username": "driven"}

    control(base, "POST", "failures", endpoint="refresh", error="expired", user_id=account["user_id"], times=1)
    refresh = {"grant_type": "ig_refresh_token", "access_token": token}
    failed = requests.get(f"{base}/refresh_access_token", params=refresh, timeout=5)
    assert failed.status_code == 400
    error = failed.json()["error"]
    assert set(error) == {"message", "type", "code", "error_subcode", "fbtrace_id"}
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    ok = requests.get(f"{base}/refresh_access_token", params=refresh, timeout=5)   # times=1: now it works
    assert ok.status_code == 200 and ok.json()["expires_in"] == 60 * 86400

    control(base, "POST", "failures", endpoint="*", error="throttled")
    assert requests.get(f"{base}/me", params={"access_token": token}, timeout=5).json()["error"]["code"] == 4
    control(base, "DELETE", "failures")
    control(base, "POST", "failures", endpoint="me", error="server")
    server_error = requests.get(f"{base}/me", params={"access_token": token}, timeout=5)
    assert server_error.status_code == 500 and server_error.json()["error"]["code"] == 2

    calls = control(base, "GET", "calls")["calls"]
    assert [c["path"] for c in calls] == ["/me", "/refresh_access_token", "/refresh_access_token", "/me", "/me"]
    assert control(base, "GET", "calls", )["calls"][0]["raw_path"] == "/v23.0/me"


def test_token_endpoint_checks_secret_redirect_and_code(base):
    location = requests.get(f"{base}/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": "1", "redirect_uri": "https://app.test/cb", "response_type": "code",
        "scope": "instagram_business_basic", "state": "st"}).headers["Location"]
    assert location.startswith("https://app.test/cb?code=") and location.endswith("&state=st#_")
    code = location.split("code=")[1].split("&")[0]
    form = {"client_id": "1", "client_secret": "wrong", "grant_type": "authorization_code",
            "redirect_uri": "https://app.test/cb", "code": code}
    bad_secret = requests.post(f"{base}/oauth/access_token", data=form, timeout=5)
    assert bad_secret.status_code == 400 and bad_secret.json()["error_type"] == "OAuthException"
    # Codes are single use, even after a failed attempt, as at Meta.
    again = requests.post(f"{base}/oauth/access_token", data={**form, "client_secret": "s3cret"}, timeout=5)
    assert again.json()["error_message"] == "Invalid authorization code"


def test_deliver_signs_like_meta(base):
    received = {}

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            received["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            received["signature"] = self.headers["X-Hub-Signature-256"]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    sink = HTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.handle_request, daemon=True).start()
    result = control(base, "POST", "deliver", url=f"http://127.0.0.1:{sink.server_address[1]}/webhook",
                     app_secret="s3cret", payload={"object": "instagram", "entry": []})
    sink.server_close()
    assert result["status"] == 200
    expected = "sha256=" + hmac.new(b"s3cret", received["body"], hashlib.sha256).hexdigest()
    assert received["signature"] == expected


def test_bad_control_requests_are_400(base):
    response = requests.post(f"{base}/_control/failures", json={"endpoint": "nope", "error": "expired"}, timeout=5)
    assert response.status_code == 400
    assert requests.get(f"{base}/_control/nothing", timeout=5).status_code == 400
