"""A bounded, paced load through the sandbox's public edge, as the zero-downtime
drill needs it: /health, the signed-in dashboard (/) and signed webhooks,
from the outside namespace, with TLS checked against Pebble's root.

    ip netns exec NS python -m tests.drills.load SETTINGS_JSON

Runs until stdin closes (the drill is done) and it has sent `min_requests`,
or until its own caps are reached: `max_requests` and `max_seconds`. Each worker keeps one connection alive
and never retries: a failed request is counted, with what and when. Prints a
JSON summary: requests and statuses per kind, failures, the webhook comment
ids sent.
"""

import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlencode

from tests.app.helpers import changes_payload
from tests.fakemeta import sign

KINDS = ("health", "page", "webhook", "health", "page")  # the mix each worker cycles through


class Edge:
    """One keep-alive HTTPS connection to the sandbox's nginx."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.context = ssl.create_default_context(cafile=settings["pebble_root"])
        self.connection = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.connection is None:
            raw = socket.create_connection((self.settings["address"], 443), timeout=30)
            self.connection = http.client.HTTPSConnection(self.settings["domain"], timeout=30, context=self.context)
            self.connection.sock = self.context.wrap_socket(raw, server_hostname=self.settings["domain"])
        try:
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def sign_in(edge: Edge) -> str:
    """Registers a fresh user; returns its session cookie."""
    status, headers, body = edge.request("GET", "/register")
    cookie = "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)[1].decode()
    email, password = f"load-{uuid.uuid4().hex[:12]}@example.test", uuid.uuid4().hex
    form = urlencode({"csrf_token": token, "email": email, "password": password, "confirm": password})
    status, headers, _ = edge.request("POST", "/register", form.encode(), {  # a browser's Referer: CSRF checks it
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
        "Referer": f"https://{edge.settings['domain']}/register"})
    assert status == 302, f"registering the load's user answered {status}"
    return "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")


def webhook(settings: dict, comment_id: str) -> tuple[bytes, dict]:
    body = json.dumps(changes_payload(settings["account"], comment_id)).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(settings["app_secret"], body)}


def main() -> None:
    settings = json.loads(sys.argv[1])
    cookie = sign_in(Edge(settings))
    stop = threading.Event()
    lock = threading.Lock()
    statuses, failures, sent = Counter(), [], []
    started = time.monotonic()
    interval = settings["workers"] / settings["rate"]  # each worker's pace

    def worker(number: int) -> None:
        edge, turn = Edge(settings), number
        while not stop.is_set():
            with lock:
                if sum(statuses.values()) + len(failures) >= settings["max_requests"]:
                    return
            kind, turn = KINDS[turn % len(KINDS)], turn + 1
            began = time.monotonic()
            try:
                if kind == "health":
                    status = edge.request("GET", "/health")[0]
                elif kind == "page":
                    status = edge.request("GET", "/", headers={"Cookie": cookie})[0]
                else:
                    comment_id = f"{settings['account']}-{uuid.uuid4().hex[:16]}"
                    status = edge.request("POST", "/webhook", *webhook(settings, comment_id))[0]
                    if status == 200:
                        with lock:
                            sent.append(comment_id)
                with lock:
                    statuses[f"{kind} {status}"] += 1
                    if not 200 <= status < 300:
                        failures.append({"kind": kind, "status": status, "at": round(began - started, 2)})
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    failures.append({"kind": kind, "error": repr(error), "at": round(began - started, 2)})
            stop.wait(max(0.0, interval - (time.monotonic() - began)))

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(settings["workers"])]
    for thread in workers:
        thread.start()
    def stop_when_done() -> None:
        sys.stdin.read()
        while not stop.is_set() and sum(statuses.values()) + len(failures) < settings["min_requests"]:
            time.sleep(0.1)
        stop.set()

    threading.Thread(target=stop_when_done, daemon=True).start()
    stop.wait(settings["max_seconds"])
    stop.set()
    for thread in workers:
        thread.join()
    print(json.dumps({"requests": sum(statuses.values()) + len(failures), "statuses": statuses,
                      "failures": failures, "webhooks_acknowledged": sent,
                      "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
