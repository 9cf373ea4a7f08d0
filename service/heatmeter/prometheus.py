"""GET /metrics: the service's own counters and the outbox's state, in Prometheus text format."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from .appkeys import metrics_key, pool_key
from .db.connections import DATABASE_DOWN

routes = web.RouteTableDef()

# Per kind; abandoned items wait for nothing: counted apart, and out of the age of what
# waits. Done items (kept by kinds performed once) are not counted at all.
OUTBOX_STATE = """
SELECT kind,
       count(*) FILTER (WHERE abandoned_at IS NULL) AS waiting,
       count(*) FILTER (WHERE last_error IS NOT NULL AND abandoned_at IS NULL) AS failing,
       count(*) FILTER (WHERE abandoned_at IS NOT NULL) AS abandoned,
       coalesce(extract(epoch FROM now() - min(first_requested_at)
                        FILTER (WHERE abandoned_at IS NULL)), 0)::float8 AS oldest_s
FROM outbox
WHERE done_at IS NULL
GROUP BY kind
"""
# The outbox's first kinds had metrics of their own before there was one outbox; they
# keep them, beside the per-kind ones.
COMMENT = "comment"
FEEDBACK = ("reaction", "reply")


class ServiceMetrics:
    """One registry per application, so that several apps in one process keep apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reports = Counter(
            "heatmeter_reports",
            "Action reports received, by result",
            ["result"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "heatmeter_webhooks",
            "GitHub webhook deliveries, by event and result",
            ["event", "result"],
            registry=self.registry,
        )
        self.comment_writes = Counter(
            "heatmeter_comment_writes",
            "PR comment updates the worker processed, by result",
            ["result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "heatmeter_http_errors",
            "Requests answered with an error, by status and error code (500: our bugs)",
            ["status", "error"],
            registry=self.registry,
        )
        self.comment_feedback = Counter(
            "heatmeter_comment_feedback",
            "Reactions and syntax replies to /heatmeter rate comments, by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "heatmeter_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and status class",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.outbox_items = Counter(
            "heatmeter_outbox_items",
            "Outbox items the workers processed, by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.outbox_waiting = Gauge(
            "heatmeter_outbox_waiting", "Outbox items waiting to be performed, by kind",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.outbox_failing = Gauge(
            "heatmeter_outbox_failing", "Outbox items whose last try failed, by kind",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.outbox_abandoned = Gauge(
            "heatmeter_outbox_abandoned",
            "Outbox items given up after repeated refusals, by kind (see outbox_abandoned)",
            ["kind"],
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "heatmeter_outbox_oldest_seconds", "Age of the oldest waiting item, by kind",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.comment_outbox_rows = Gauge(
            "heatmeter_comment_outbox_rows", "PR comments waiting to be written",
            registry=self.registry,
        )  # fmt: skip
        self.comment_outbox_failing = Gauge(
            "heatmeter_comment_outbox_failing", "PR comments whose last write failed",
            registry=self.registry,
        )  # fmt: skip
        self.comment_outbox_abandoned = Gauge(
            "heatmeter_comment_outbox_abandoned",
            "PR comments given up after repeated refusals (see comment_outbox_abandoned)",
            registry=self.registry,
        )
        self.feedback_abandoned = Gauge(
            "heatmeter_comment_feedback_abandoned",
            "Reactions and replies given up after repeated refusals "
            "(see comment_feedback_abandoned)",
            registry=self.registry,
        )
        self.comment_outbox_oldest = Gauge(
            "heatmeter_comment_outbox_oldest_seconds", "Age of the oldest waiting comment",
            registry=self.registry,
        )  # fmt: skip
        self.webhook_bodies_unverified = Gauge(
            "heatmeter_webhook_bodies_unverified",
            "Webhook bodies being read whose signature is not checked yet",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "heatmeter_database_up", "1 when Postgres answered the last scrape",
            registry=self.registry,
        )  # fmt: skip

    def count_outbox_item(self, kind: str, result: str) -> None:
        """What an outbox worker is told of each item it processed."""
        self.outbox_items.labels(kind, result).inc()
        if kind == COMMENT:
            self.comment_writes.labels(result).inc()
        elif kind in FEEDBACK:
            self.comment_feedback.labels(kind, result).inc()

    def observe_outbox(self, rows: list[Mapping[str, Any]]) -> None:
        """The outbox's state per kind, as OUTBOX_STATE reads it."""
        by_kind = {row["kind"]: row for row in rows}
        for gauge, column in (
            (self.outbox_waiting, "waiting"),
            (self.outbox_failing, "failing"),
            (self.outbox_abandoned, "abandoned"),
            (self.outbox_oldest, "oldest_s"),
        ):
            gauge.clear()
            for kind, row in by_kind.items():
                gauge.labels(kind).set(row[column])
        comments = by_kind.get(COMMENT, {})
        self.comment_outbox_rows.set(comments.get("waiting", 0))
        self.comment_outbox_failing.set(comments.get("failing", 0))
        self.comment_outbox_abandoned.set(comments.get("abandoned", 0))
        self.comment_outbox_oldest.set(comments.get("oldest_s", 0))
        self.feedback_abandoned.set(sum(by_kind.get(k, {}).get("abandoned", 0) for k in FEEDBACK))

    def observe_request(self, request: web.Request, status: int, started: float) -> None:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        self.request_seconds.labels(request.method, route, f"{status // 100}xx").observe(
            time.perf_counter() - started
        )


@routes.get("/metrics")
async def get_metrics(request: web.Request) -> web.Response:
    metrics = request.app[metrics_key]
    try:
        async with request.app[pool_key].acquire(timeout=2) as conn:
            rows = await conn.fetch(OUTBOX_STATE)
    except DATABASE_DOWN:
        metrics.database_up.set(0)
    else:
        metrics.database_up.set(1)
        metrics.observe_outbox(rows)
    body = generate_latest(metrics.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
