"""GET /metrics: Prometheus text with the service's counters and the outbox's state."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from .conftest import REPORT_SECRET
from .reports import make_report, signed
from .test_webhooks import WEBHOOK_SECRET
from .webhooks import payload, webhook_request


async def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_counters_follow_what_the_service_did(
    client: TestClient, db: asyncpg.Connection
) -> None:
    for secret in (REPORT_SECRET, REPORT_SECRET, "wrong"):
        body, headers = signed(make_report(), secret)
        await client.post("/v1/reports", data=body, headers=headers)
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    await client.post("/webhooks/github", data=body, headers=headers)

    samples = await scrape(client)
    assert samples[("heatmeter_reports_total", (("result", "stored"),))] == 1
    assert samples[("heatmeter_reports_total", (("result", "duplicate"),))] == 1
    assert samples[("heatmeter_reports_total", (("result", "unauthenticated"),))] == 1
    assert samples[("heatmeter_webhooks_total", (("event", "ping"), ("result", "handled")))] == 1
    # The stored report is for PR 7, whose comment now waits in the outbox.
    assert samples[("heatmeter_comment_outbox_rows", ())] == 1
    assert samples[("heatmeter_database_up", ())] == 1
    latency = ("method", "POST"), ("route", "/v1/reports"), ("status", "2xx")
    assert samples[("heatmeter_http_request_duration_seconds_count", latency)] == 2
