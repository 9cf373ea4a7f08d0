"""POST /v1/reports: stored once, authenticated, and every bad input named in a JSON 4xx."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.reports.trust import SIGNATURE_HEADER
from heatmeter.settings import Settings

from .conftest import REPORT_SECRET
from .reports import make_report, signed


async def post(client: TestClient, report: dict | bytes, secret: str = REPORT_SECRET):
    body, headers = signed(report, secret)
    return await client.post("/v1/reports", data=body, headers=headers)


async def test_a_report_is_stored_and_answered_with_its_id(
    client: TestClient, db: asyncpg.Connection
) -> None:
    response = await post(client, make_report())
    assert response.status == 202
    answer = await response.json()
    row = await db.fetchrow("SELECT * FROM task_runs")
    assert answer == {"id": row["id"], "duplicate": False}
    assert row["repository"] == "octo-org/octo-repo"
    assert row["outcome"] == "success"
    assert row["duration_ms"] == 42_000
    assert row["pull_request"] == 7
    assert row["auth_method"] == "hmac"
    assert row["closed_by"] == "report"
    assert response.headers["X-Request-Id"]


async def test_a_replayed_report_stores_nothing_new(
    client: TestClient, db: asyncpg.Connection
) -> None:
    first = await (await post(client, make_report())).json()
    again = await post(client, make_report(duration_ms=1, outcome="failure"))
    assert again.status == 202
    assert await again.json() == {"id": first["id"], "duplicate": True}
    row = await db.fetchrow("SELECT count(*) AS n, max(duration_ms) AS ms FROM task_runs")
    assert (row["n"], row["ms"]) == (1, 42_000)


@pytest.mark.parametrize("offset", [-(19 * 60 + 26), 23 * 60 + 59])
async def test_any_offset_rfc_3339_allows_is_stored_as_the_instant_it_names(
    client: TestClient, db: asyncpg.Connection, offset: int
) -> None:
    # RFC 3339 allows offsets to ±23:59; Postgres reads ±15:59 at most from text. The
    # service hands Postgres the instant, in UTC.
    zone = timezone(timedelta(minutes=offset))
    started = datetime.fromisoformat(make_report()["started_at"]) - timedelta(days=1)
    report = make_report(
        started_at=started.astimezone(zone).isoformat(),
        finished_at=(started + timedelta(seconds=42)).astimezone(zone).isoformat(),
    )
    response = await post(client, report)
    assert response.status == 202, await response.text()
    row = await db.fetchrow("SELECT started_at, finished_at FROM task_runs")
    assert (row["started_at"], row["finished_at"]) == (started, started + timedelta(seconds=42))
    again = await post(client, report)
    assert (await again.json())["duplicate"] is True


async def test_start_then_finish_completes_one_row(
    client: TestClient, db: asyncpg.Connection
) -> None:
    start = make_report(
        phase="start", finished_at=None, duration_ms=None, outcome=None, exit_code=None
    )
    started = await (await post(client, start)).json()
    assert await db.fetchval("SELECT outcome FROM task_runs") is None

    finished = await (await post(client, make_report(outcome="failure"))).json()
    assert finished == {"id": started["id"], "duplicate": False}
    # The start arriving late (a retry) must not reopen the finished run.
    late = await (await post(client, start)).json()
    assert late == {"id": started["id"], "duplicate": True}
    assert await db.fetchval("SELECT outcome FROM task_runs") == "failure"


async def test_the_version_is_stored_and_the_starts_version_stands(
    client: TestClient, db: asyncpg.Connection
) -> None:
    start = make_report(
        phase="start", finished_at=None, duration_ms=None, outcome=None, version="v3"
    )
    assert (await post(client, start)).status == 202
    assert (await post(client, make_report(version="v4"))).status == 202
    assert (await post(client, make_report(run_id=2))).status == 202
    rows = await db.fetch("SELECT run_id, version FROM task_runs ORDER BY run_id")
    assert [tuple(r) for r in rows] == [(2, None), (1001, "v3")]


async def test_other_steps_of_the_same_task_are_separate_runs(
    client: TestClient, db: asyncpg.Connection
) -> None:
    for step in ("staging", "production"):
        assert (await post(client, make_report(step=step))).status == 202
    assert (await post(client, make_report(run_attempt=2))).status == 202
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 3


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"run_id": "12"}, {"run_id"}),
        ({"kind": "magic", "outcome": "meh"}, {"kind", "outcome"}),
        ({"repository": "no-slash"}, {"repository"}),
        ({"repository": "octo/app\n"}, {"repository"}),
        ({"task": ""}, {"task"}),
        ({"task": None}, {"task"}),
        ({"started_at": "yesterday"}, {"started_at"}),
        ({"started_at": "2026-11-01T12:00:00"}, {"started_at"}),  # no offset: the point
        # A finish before the start: long before any start the suite makes, on any clock.
        ({"finished_at": "2001-01-01T11:00:00+00:00"}, {"finished_at"}),
        ({"outcome": None}, {"outcome"}),
        ({"phase": "start", "duration_ms": 1, "exit_code": 0}, {"duration_ms", "exit_code"}),
        ({"surprise": 1}, {"surprise"}),
        ({"sha": "not-a-sha"}, {"sha"}),
        ({"version": ""}, {"version"}),
        ({"version": "v" * 101}, {"version"}),
        ({"version": "v3\n"}, {"version"}),
        ({"version": 3}, {"version"}),
    ],
)
async def test_invalid_reports_name_their_bad_fields(
    client: TestClient, db: asyncpg.Connection, change: dict, fields: set[str]
) -> None:
    response = await post(client, make_report(**change))
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "invalid_report"
    assert set(answer["fields"]) == fields, answer
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[]", b"null"])
async def test_non_json_or_non_object_bodies_are_400(client: TestClient, body: bytes) -> None:
    response = await post(client, body)
    assert response.status == 400
    assert (await response.json())["error"] in {"invalid_json", "invalid_report"}


async def test_missing_signature_is_401(client: TestClient, db: asyncpg.Connection) -> None:
    response = await client.post(
        "/v1/reports", data=json.dumps(make_report()), headers={"Content-Type": "application/json"}
    )
    assert response.status == 401
    assert (await response.json())["error"] == "unauthenticated"
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


async def test_a_report_signed_with_another_secret_is_refused(
    client: TestClient, db: asyncpg.Connection
) -> None:
    response = await post(client, make_report(), secret="someone-elses-secret")
    assert response.status == 401
    assert "does not match" in (await response.json())["detail"]
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


async def test_a_body_changed_after_signing_is_refused(client: TestClient) -> None:
    body, headers = signed(make_report(), REPORT_SECRET)
    tampered = body.replace(b'"success"', b'"failure"')
    response = await client.post("/v1/reports", data=tampered, headers=headers)
    assert response.status == 401


async def test_an_oversized_body_is_413(client: TestClient) -> None:
    body, headers = signed(make_report(actor="x" * 70_000), REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 413
    assert (await response.json())["error"] == "request_entity_too_large"


async def test_an_oversized_chunked_body_is_413(client: TestClient) -> None:
    body, headers = signed(make_report(actor="x" * 70_000), REPORT_SECRET)

    async def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    response = await client.post("/v1/reports", data=chunks(), headers=headers)
    assert response.status == 413


async def test_non_json_content_type_is_415(client: TestClient) -> None:
    body, headers = signed(make_report(), REPORT_SECRET)
    headers["Content-Type"] = "text/plain"
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 415
    assert (await response.json())["error"] == "unsupported_media_type"


async def test_hmac_refused_when_no_secret_is_configured(
    aiohttp_client, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(Settings(database_url=settings.database_url)))
    response = await post(client, make_report())
    assert response.status == 401
    assert "HEATMETER_REPORT_SECRET" in (await response.json())["detail"]


async def test_unreachable_database_is_503_with_retry_after(aiohttp_client) -> None:
    # Port 9 (discard) on loopback: nothing listens, so every connection is refused.
    down = Settings(database_url="postgresql://heatmeter@127.0.0.1:9/none", report_secret="s")
    client = await aiohttp_client(create_app(down))
    response = await post(client, make_report(), secret="s")
    assert response.status == 503
    assert response.headers["Retry-After"]
    assert (await response.json())["error"] == "database_unavailable"

    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["database"] == "unreachable"


async def test_wrong_method_and_unknown_path_answer_json(client: TestClient) -> None:
    response = await client.get("/v1/reports")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["error"] == "method_not_allowed"
    missing = await client.get("/nowhere")
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["pending_migrations"] == 0


async def test_openapi_publishes_the_report_schema(client: TestClient) -> None:
    document = await (await client.get("/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    report = document["components"]["schemas"]["Report"]
    assert set(report["required"]) >= {"repository", "run_id", "task", "phase"}
    assert SIGNATURE_HEADER in json.dumps(document["components"]["securitySchemes"])
    responses = document["paths"]["/v1/reports"]["post"]["responses"]
    assert {"202", "400", "401", "413", "415", "503"} <= set(responses)
