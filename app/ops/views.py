"""/health, /metrics and /alerts."""

from __future__ import annotations

import datetime as dt
import logging
import time

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from app.logs import utc_iso
from app.ops import metrics
from app.ops.checks import database_answers, evaluate_alerts, take_snapshot
from app.web.shared import shared

bp = Blueprint("monitoring", __name__)
log = logging.getLogger(__name__)


def _now() -> str:
    return utc_iso(dt.datetime.now(dt.timezone.utc))


def _snapshot_or_none():
    try:
        return take_snapshot(shared().pool)
    except Exception as exc:  # unreachable database: reported as such, not as a 500
        log.error("monitoring snapshot failed: %s", type(exc).__name__)
        return None


@bp.get("/health")
def health():
    objects = shared()
    healthy = database_answers(objects.pool)
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": _now(),
        "uptime": max(0, int((time.time() - objects.started_at) * 1000)),
        "environment": objects.config.node_env,
    }
    return jsonify(body), 200 if healthy else 503


@bp.get("/metrics")
def metrics_view():
    snapshot = _snapshot_or_none()
    if request.accept_mimetypes.best_match(["text/plain", "application/json"]) == "application/json":
        return jsonify(timestamp=_now(), metrics=metrics.render_json(snapshot))
    return Response(metrics.render_text(snapshot), content_type=CONTENT_TYPE_LATEST)


@bp.get("/alerts")
def alerts():
    active = evaluate_alerts(_snapshot_or_none())
    return jsonify(status="alerting" if active else "ok", timestamp=_now(), alerts=active)
