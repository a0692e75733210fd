"""Runs ON the sandbox host (python3 - < this file, after a settings line):
posts COUNT signed webhook deliveries to the app on its socket, one every
INTERVAL seconds, each retried until the app answers 200, as Meta retries a
failed delivery. Prints a JSON summary: acknowledged, failed, retries."""

import hashlib
import hmac
import http.client
import json
import socket
import time

APP_SOCKET, APP_SECRET, ACCOUNT, COUNT, INTERVAL, GIVE_UP = SETTINGS  # noqa: F821 (prepended by the drill)


class AppConnection(http.client.HTTPConnection):
    """HTTP to the app's Unix socket."""

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(APP_SOCKET)


def post(body: bytes, headers: dict) -> int:
    connection = AppConnection("localhost", timeout=5)
    try:
        connection.request("POST", "/webhook", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def deliver(i: int) -> int:
    body = json.dumps({"object": "instagram", "entry": [{
        "id": ACCOUNT, "time": int(time.time()),
        "changes": [{"field": "comments", "value": {
            "id": f"{ACCOUNT}-{i}", "text": f"drill comment {i}", "media": {"id": f"{ACCOUNT}-media"},
            "from": {"id": "17841400000000000", "username": "drill"}}}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    retries, deadline = 0, time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        try:
            if post(body, headers) == 200:
                return retries
        except (OSError, http.client.HTTPException):
            pass
        retries += 1
        time.sleep(0.2)
    return -1


results = []
for i in range(COUNT):
    started = time.monotonic()
    results.append(deliver(i))
    time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))
print(json.dumps({"acknowledged": sum(r >= 0 for r in results), "failed": sum(r < 0 for r in results),
                  "retries": sum(r for r in results if r > 0)}))
