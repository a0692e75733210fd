"""Runs ON the sandbox host (python3 - < this file, after a settings line):
posts COUNT signed webhook deliveries to the app on loopback, one every
INTERVAL seconds, each retried until the app answers 200, as Meta retries a
failed delivery. Prints a JSON summary: acknowledged, failed, retries."""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

APP_URL, APP_SECRET, ACCOUNT, COUNT, INTERVAL, GIVE_UP = SETTINGS  # noqa: F821 (prepended by the drill)


def deliver(i: int) -> int:
    body = json.dumps({"object": "instagram", "entry": [{
        "id": ACCOUNT, "time": int(time.time()),
        "changes": [{"field": "comments", "value": {
            "id": f"{ACCOUNT}-{i}", "text": f"drill comment {i}", "media": {"id": f"{ACCOUNT}-media"},
            "from": {"id": "17841400000000000", "username": "drill"}}}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{APP_URL}/webhook", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
    retries, deadline = 0, time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return retries
        except (urllib.error.URLError, ConnectionError, TimeoutError):
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
