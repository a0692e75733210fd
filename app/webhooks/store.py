"""Webhook ingestion: turn a verified payload into queue rows.

Every change (`entry[].changes[]`), every entry carrying `field`/`value`
directly (Business Login for Instagram) and every `entry[].messaging[]` item
becomes one row of webhook_events.  Its dedupe key is a hash of what
identifies it, so a redelivery, even batched differently, is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass


class PayloadError(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    dedupe_key: str
    object: str
    account_id: str | None
    field: str
    payload: dict
    entry_time: dt.datetime | None


def _messaging_field(item: dict) -> str:
    for key, field in (("message", "messages"), ("reaction", "message_reactions"),
                       ("postback", "messaging_postbacks"), ("read", "messaging_seen")):
        if key in item:
            return field
    return "messaging"


def _entry_time(value) -> dt.datetime | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return None
    seconds = value / 1000 if value > 100_000_000_000 else value  # messaging entries use ms
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _items(entry: dict):
    changes = entry.get("changes") or []
    messaging = entry.get("messaging") or []
    if not isinstance(changes, list) or not isinstance(messaging, list):
        raise PayloadError("changes and messaging must be arrays")
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("field"), str):
            raise PayloadError("each change needs a field")
        yield change["field"], change.get("value")
    if isinstance(entry.get("field"), str):
        yield entry["field"], entry.get("value")
    for item in messaging:
        if not isinstance(item, dict):
            raise PayloadError("messaging items must be objects")
        yield _messaging_field(item), item
    if not changes and not messaging and "field" not in entry:
        # A shape we do not know yet: keep it rather than lose it.
        yield "unknown", {k: v for k, v in entry.items() if k not in ("id", "time")}


def _storable(value):
    """value with every string made storable: PostgreSQL refuses U+0000 in
    text and jsonb, and UTF-8 has no lone surrogates (JSON's "\\ud800" alone),
    so both become U+FFFD rather than failing the whole delivery."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:  # nearly every string: nothing to do
            return value
        return value.replace("\x00", "\ufffd").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


# What alone can give such a string: a \u0000 or surrogate escape, or raw surrogate bytes.
_MAYBE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")
# Meta's deliveries nest a handful of levels.  Far deeper JSON fits in jsonb,
# but what reads it back (the API, the processor) would run out of stack.
MAX_DEPTH = 64
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels"


def _nested_deeper_than(value, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep; level by level,
    so this needs no stack of its own."""
    level = [value]
    for _ in range(limit + 1):
        containers = [node for node in level if isinstance(node, (dict, list))]
        if not containers:
            return False
        level = [child for node in containers for child in (node.values() if isinstance(node, dict) else node)]
    return True


def load_payload(raw: bytes):
    """The delivery's JSON, with its strings made storable (_storable) when the
    raw bytes say they may need it, which nearly no delivery does: the copy is
    kept off the ingest path otherwise."""
    try:
        body = json.loads(raw)
    except RecursionError:  # thousands of levels: json gives up before we could count them
        raise PayloadError(TOO_DEEP) from None
    # No more brackets than MAX_DEPTH, no deeper than that: nearly every delivery skips the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _nested_deeper_than(body, MAX_DEPTH):
        raise PayloadError(TOO_DEEP)
    if _MAYBE_UNSTORABLE.search(raw) or json.detect_encoding(raw) != "utf-8":
        body = _storable(body)
    return body


def parse_events(body) -> list[Event]:
    if not isinstance(body, dict):
        raise PayloadError("payload must be a JSON object")
    obj, entries = body.get("object"), body.get("entry")
    if not isinstance(obj, str) or not isinstance(entries, list):
        raise PayloadError("payload needs object and entry[]")
    events = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise PayloadError("entries must be objects")
        account_id = str(entry["id"]) if entry.get("id") not in (None, "") else None
        entry_time = entry.get("time")
        for field, value in _items(entry):
            try:
                # identity holds all the event stores: allow_nan=False refuses what jsonb
                # cannot hold, NaN, Infinity and numbers beyond a double (1e400 reads as inf).
                identity = json.dumps([obj, account_id, entry_time, field, value], sort_keys=True,
                                      separators=(",", ":"), default=str, allow_nan=False)
            except ValueError:
                raise PayloadError("numbers must be finite: no NaN, Infinity or 1e400") from None
            events.append(Event(
                dedupe_key=hashlib.sha256(identity.encode()).hexdigest(),
                object=obj,
                account_id=account_id,
                field=field,
                payload={"entry_id": account_id, "time": entry_time, "field": field, "value": value},
                entry_time=_entry_time(entry_time),
            ))
    return events


def store_events(conn, events: list[Event]) -> int:
    """All of a delivery's events in one statement, hence one transaction
    (on an autocommit connection); returns how many were new (the rest were
    duplicates).  Plain VALUES rows: cheaper to send than arrays."""
    if not events:
        return 0
    rows = ", ".join(["(%s, %s, %s, %s, %s::jsonb, %s)"] * len(events))
    params = [value for e in events for value in (
        e.dedupe_key, e.object, e.account_id, e.field,
        json.dumps(e.payload, separators=(",", ":")), e.entry_time)]
    return conn.execute(
        f"""INSERT INTO webhook_events (dedupe_key, object, account_id, field, payload, entry_time)
            VALUES {rows} ON CONFLICT (dedupe_key) DO NOTHING""",
        params,
    ).rowcount
