"""Signed webhooks of the wrong shape are a 400 naming the field; a handler's bug is a 500.

Before, each payload here was a 500 (so GitHub saw a failure we would never fix), or a
handler's KeyError/TypeError/AttributeError was answered 400 as if GitHub had erred.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
import structlog
from aiohttp.test_utils import TestClient

from heatmeter.webhooks import pull_requests

from ..test_metrics import scrape
from ..test_webhooks import WEBHOOK_SECRET
from ..webhooks import payload, webhook_request


async def deliver(client: TestClient, event: str, data: dict | bytes, **headers: str):
    body, signed = webhook_request(event, data, WEBHOOK_SECRET)
    response = await client.post("/webhooks/github", data=body, headers={**signed, **headers})
    return response.status, await response.json()


async def nothing_recorded(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    assert await db.fetchval("SELECT count(*) FROM pull_requests") == 0


def opened(**changes) -> dict:
    data = payload("pull_request.opened")
    pr = data["pull_request"]
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = pr
        for parent in parents:
            target = target[parent]
        target[name] = value
    return data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"number": "1"}, "pull_request.number"),
        ({"number": 1.5}, "pull_request.number"),
        ({"head__sha": "a" * 1_000_000}, "pull_request.head.sha"),
        ({"head__ref": "x" * 10_000}, "pull_request.head.ref"),
        ({"head__ref": "feature\x00"}, "pull_request.head.ref"),
        ({"created_at": "yesterday"}, "pull_request.created_at"),
        ({"created_at": "0001-01-01T00:00:00+01:00"}, "pull_request.created_at"),
        ({"head": None}, "pull_request.head"),
        ({"state": "merged"}, "pull_request.state"),
    ],
)
async def test_a_pull_request_of_the_wrong_shape_is_400_naming_the_field(
    client: TestClient, db: asyncpg.Connection, changes: dict, field: str
) -> None:
    status, answer = await deliver(client, "pull_request", opened(**changes))
    assert status == 400, answer
    assert answer["error"] == "unexpected_payload"
    assert field in answer["fields"], answer
    assert len(json.dumps(answer)) < 2_000  # the 1 MB value is not echoed back
    await nothing_recorded(db)


async def test_deep_nesting_is_400(client: TestClient, db: asyncpg.Connection) -> None:
    body = b'{"zen": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    status, answer = await deliver(client, "ping", body)
    assert (status, answer["error"]) == (400, "bad_webhook")
    await nothing_recorded(db)


async def test_a_huge_number_is_400(client: TestClient, db: asyncpg.Connection) -> None:
    status, answer = await deliver(client, "ping", b'{"hook_id": ' + b"9" * 5000 + b"}")
    assert (status, answer["error"]) == (400, "bad_webhook")


@pytest.mark.parametrize(
    ("event", "data", "field"),
    [
        ("workflow_job", {"workflow_job": {"run_id": 1, "completed_at": "soon"},
                          "repository": {"full_name": "o/r"}}, "workflow_job.completed_at"),
        ("workflow_run", {"workflow_run": {"id": 1, "pull_requests": [{"number": "7"}]},
                          "repository": {"full_name": "o/r", "id": 1}},
         "workflow_run.pull_requests[0].number"),
        ("installation", {"installation": {"id": 1, "account": None}}, "installation.account"),
        ("installation_repositories", {"installation": {"id": 1, "account": {"login": "o"}},
                                       "repositories_added": [{"full_name": 5}]},
         "repositories_added[0].full_name"),
        ("ping", {"hook": None}, "hook"),
        ("star", {"installation": "1"}, "installation"),
        ("star", {"action": "created\x00"}, "action"),
    ],
)  # fmt: skip
async def test_every_family_names_its_bad_field(
    client: TestClient, db: asyncpg.Connection, event: str, data: dict, field: str
) -> None:
    action = {"workflow_job": "completed", "workflow_run": "completed", "installation": "created",
              "installation_repositories": "added"}.get(event)  # fmt: skip
    status, answer = await deliver(client, event, {"action": action, **data} if action else data)
    assert status == 400, answer
    assert field in answer["fields"], answer
    await nothing_recorded(db)


async def test_a_bug_in_a_handler_is_a_counted_500_without_traceback(
    client: TestClient,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(value: str | None) -> None:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(pull_requests, "github_time", broken)
    with structlog.testing.capture_logs() as logs:
        status, answer = await deliver(client, "pull_request", opened())
    assert status == 500
    assert answer == {
        "error": "internal_error",
        "detail": "an unexpected error; it has been logged",
    }
    [logged] = [entry for entry in logs if entry["log_level"] == "error"]
    assert (logged["event"], logged["exc_info"]) == ("unhandled error", True)  # with traceback
    await nothing_recorded(db)
    samples = await scrape(client)
    assert (
        samples[("heatmeter_http_errors_total", (("error", "internal_error"), ("status", "500")))]
        == 1
    )
    assert (
        samples[("heatmeter_webhooks_total", (("event", "pull_request"), ("result", "error")))] == 1
    )


@pytest.mark.parametrize(
    "delivery_id", ["", " ", "d-1", "72d3162e-cc78-11e3-81ab-4c9367dc095", "x" * 5000]
)
async def test_an_empty_or_malformed_delivery_id_is_refused(
    client: TestClient, db: asyncpg.Connection, delivery_id: str
) -> None:
    data = payload("installation.created")
    for _ in range(2):  # the second is not a "duplicate" of the first
        status, answer = await deliver(
            client, "installation", data, **{"X-GitHub-Delivery": delivery_id}
        )
        assert (status, answer["error"]) == (400, "bad_delivery_id")
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    assert await db.fetchval("SELECT count(*) FROM installations") == 0


@pytest.mark.parametrize("event", ["", "Pull_Request", "x" * 100, "pull request"])
async def test_a_malformed_event_name_is_refused(client: TestClient, event: str) -> None:
    status, answer = await deliver(
        client, "ping", payload("ping.with-app_id"), **{"X-GitHub-Event": event}
    )
    assert (status, answer["error"]) == (400, "bad_event")


async def test_a_form_encoded_delivery_is_415(client: TestClient, db) -> None:
    status, answer = await deliver(
        client, "ping", b"payload=%7B%7D", **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (status, answer["error"]) == (415, "unsupported_media_type")
