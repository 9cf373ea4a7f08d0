"""GET /metrics: the service's own counters and the outbox's state, in Prometheus text format."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from .appkeys import metrics_key, pool_key
from .db.connections import DATABASE_DOWN

routes = web.RouteTableDef()

# Abandoned writes wait for nothing: counted apart, and out of the age of what waits.
OUTBOX_STATE = """
SELECT count(*) FILTER (WHERE abandoned_at IS NULL) AS rows,
       count(*) FILTER (WHERE last_error IS NOT NULL AND abandoned_at IS NULL) AS failing,
       count(*) FILTER (WHERE abandoned_at IS NOT NULL) AS abandoned,
       coalesce(extract(epoch FROM now() - min(first_requested_at)
                        FILTER (WHERE abandoned_at IS NULL)), 0)::float8 AS oldest_s,
       (SELECT count(*) FROM comment_feedback WHERE abandoned_at IS NOT NULL)
           AS feedback_abandoned
FROM comment_outbox
"""


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
        self.outbox_rows = Gauge(
            "heatmeter_comment_outbox_rows", "PR comments waiting to be written",
            registry=self.registry,
        )  # fmt: skip
        self.outbox_failing = Gauge(
            "heatmeter_comment_outbox_failing", "PR comments whose last write failed",
            registry=self.registry,
        )  # fmt: skip
        self.outbox_abandoned = Gauge(
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
        self.outbox_oldest = Gauge(
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
            row = await conn.fetchrow(OUTBOX_STATE)
    except DATABASE_DOWN:
        metrics.database_up.set(0)
    else:
        metrics.database_up.set(1)
        metrics.outbox_rows.set(row["rows"])
        metrics.outbox_failing.set(row["failing"])
        metrics.outbox_abandoned.set(row["abandoned"])
        metrics.feedback_abandoned.set(row["feedback_abandoned"])
        metrics.outbox_oldest.set(row["oldest_s"])
    body = generate_latest(metrics.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
