"""Prometheus metrics: request counters in-process, queue and token state
read from the database at scrape time.

Under gunicorn the request counters live in PROMETHEUS_MULTIPROC_DIR (set
up by app/gunicorn.conf.py) so every worker's counts add up.  Queue depth,
processed and failed events (totals kept in webhook_event_totals, so they
survive housekeeping) and token state are read from PostgreSQL on each
scrape: the jobs that change them are separate processes.
"""

from __future__ import annotations

import math
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from app.ops.checks import EXPIRY_WARNING_DAYS

PREFIX = "insta_"
EVENT_STATUSES = ("pending", "processing", "done", "failed")

REQUESTS = Counter(f"{PREFIX}http_requests", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    f"{PREFIX}http_request_duration_seconds", "HTTP request latency by route", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBHOOKS_RECEIVED = Counter(f"{PREFIX}webhooks_received", "Webhook deliveries by outcome", ["outcome"])
WEBHOOK_EVENTS_RECEIVED = Counter(f"{PREFIX}webhook_events_received", "Webhook events by result (new or duplicate)",
                                  ["result"])


class DatabaseCollector:
    """Turns a monitoring Snapshot (or None: database down) into metrics."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def collect(self):
        snap = self.snapshot
        yield GaugeMetricFamily(f"{PREFIX}database_up", "1 when PostgreSQL answered this scrape",
                                value=0 if snap is None else 1)
        if snap is None:
            return
        by_status = GaugeMetricFamily(f"{PREFIX}webhook_events", "Webhook queue rows by status", labels=["status"])
        for status in EVENT_STATUSES:
            by_status.add_metric([status], snap.events_by_status.get(status, 0))
        yield by_status
        # Totals kept apart from the queue rows, which housekeeping deletes:
        # these only go up, as counters must.
        yield CounterMetricFamily(f"{PREFIX}webhooks_processed", "Webhook events processed (marked done), ever",
                                  value=snap.event_totals.get("done", 0))
        yield CounterMetricFamily(f"{PREFIX}webhooks_failed", "Webhook events that failed for good, ever",
                                  value=snap.event_totals.get("failed", 0))
        unprocessed = snap.events_by_status.get("pending", 0) + snap.events_by_status.get("processing", 0)
        yield GaugeMetricFamily(f"{PREFIX}webhook_queue_depth", "Webhook events not processed yet", value=unprocessed)
        yield GaugeMetricFamily(f"{PREFIX}webhook_oldest_pending_age_seconds",
                                "Seconds the oldest due webhook event has waited for the processor, since it "
                                "became due or was claimed (0 when none; retry delays not counted)",
                                value=snap.oldest_due_age or 0)
        outcomes = CounterMetricFamily(f"{PREFIX}token_refresh_attempts", "Token refresh attempts by outcome",
                                       labels=["outcome"])
        for outcome in ("refreshed", "needs_reauth", "deferred", "retry", "failed"):
            outcomes.add_metric([outcome], snap.refresh_outcomes.get(outcome, 0))
        yield outcomes
        yield GaugeMetricFamily(f"{PREFIX}tokens_expiring_soon",
                                f"Active accounts' tokens expiring within {EXPIRY_WARNING_DAYS} days",
                                value=snap.tokens_expiring)
        accounts = GaugeMetricFamily(f"{PREFIX}instagram_accounts", "Connected accounts by status", labels=["status"])
        for status in ("active", "needs_reauth"):
            accounts.add_metric([status], snap.accounts_by_status.get(status, 0))
        yield accounts
        run = snap.last_refresh_run
        if run:
            yield GaugeMetricFamily(f"{PREFIX}token_refresh_last_run_age_seconds",
                                    "Seconds since the last token refresh run finished", value=run["age_seconds"])
            yield GaugeMetricFamily(f"{PREFIX}token_refresh_last_run_ok", "1 when the last refresh run succeeded",
                                    value=1 if run["status"] == "ok" else 0)


class _Collectors:
    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def collectors(snapshot):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_metrics = CollectorRegistry()
        MultiProcessCollector(process_metrics)
    else:
        process_metrics = REGISTRY
    return _Collectors(process_metrics, DatabaseCollector(snapshot))


def render_text(snapshot) -> bytes:
    return generate_latest(collectors(snapshot))


def _number(value: float):
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return int(value) if float(value).is_integer() else value


def render_json(snapshot) -> dict:
    metrics = {}
    for family in collectors(snapshot).collect():
        metrics[family.name] = {
            "type": family.type,
            "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": _number(s.value)} for s in family.samples],
        }
    return metrics
