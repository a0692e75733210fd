"""Per-request bookkeeping shared by the Flask hooks and the webhook receiver:
request ids, metrics and the access line. The security headers are nginx's
alone (templates/etc/nginx/sites-available/insta-connect-demo.j2)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from app.ops import metrics

access_log = logging.getLogger("app.access")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id(incoming: str | None) -> str:
    """nginx's X-Request-ID when it looks like one, else a new id."""
    return incoming if incoming and REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


def record(method: str, path: str, route: str, status: int, started: float, remote_addr: str | None) -> None:
    elapsed = time.perf_counter() - started
    metrics.REQUESTS.labels(method, route, str(status)).inc()
    metrics.LATENCY.labels(method, route).observe(elapsed)
    # The path only: query strings carry OAuth codes, states and verify tokens.
    access_log.info("%s %s %s", method, path, status, extra={
        "method": method, "path": path, "route": route, "status": status,
        "duration_ms": round(elapsed * 1000, 2), "remote_addr": remote_addr,
    })
