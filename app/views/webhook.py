"""Meta's webhook endpoint: verification handshake and signed deliveries."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, jsonify, request

from app.metrics import WEBHOOK_EVENTS_RECEIVED, WEBHOOKS_RECEIVED
from app.security import constant_time_equals, valid_hub_signature
from app.services import services
from app.webhooks import PayloadError, parse_events, store_events

bp = Blueprint("webhook", __name__)
log = logging.getLogger("app.webhook")


@bp.get("/webhook")
def verify():
    args = request.args
    challenge = args.get("hub.challenge", "")
    if (args.get("hub.mode") == "subscribe" and challenge
            and constant_time_equals(args.get("hub.verify_token", ""), services().config.verify_token)):
        return Response(challenge, 200, mimetype="text/plain")
    log.warning("webhook verification refused", extra={"mode": args.get("hub.mode")})
    return Response("Forbidden", 403, mimetype="text/plain")


def _reject(outcome: str, status: int, message: str):
    WEBHOOKS_RECEIVED.labels(outcome).inc()
    log.warning("webhook rejected", extra={"outcome": outcome})
    return jsonify(error=message), status


@bp.post("/webhook")
def receive():
    svc = services()
    body = request.get_data(cache=False)  # raw bytes: the HMAC is over exactly these (413 past the limit)
    signature = request.headers.get("X-Hub-Signature-256")
    if not signature:
        return _reject("missing_signature", 401, "missing X-Hub-Signature-256")
    if not valid_hub_signature(svc.config.app_secret, body, signature):
        return _reject("bad_signature", 403, "invalid signature")
    try:
        events = parse_events(json.loads(body))
    except PayloadError as exc:
        return _reject("bad_payload", 400, str(exc))
    except ValueError:
        return _reject("bad_json", 400, "body is not JSON")
    with svc.pool.connection() as conn:
        new = store_events(conn, events)
    WEBHOOKS_RECEIVED.labels("stored").inc()
    WEBHOOK_EVENTS_RECEIVED.labels("new").inc(new)
    WEBHOOK_EVENTS_RECEIVED.labels("duplicate").inc(len(events) - new)
    log.info("webhook stored", extra={"events": len(events), "new": new})
    return jsonify(received=len(events), stored=new)
