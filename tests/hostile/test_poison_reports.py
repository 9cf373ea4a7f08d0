"""Reports that passed the old schema and broke the service: each is now a 400 naming the field.

Each input here was a 500 (or was stored as nonsense) before; the action retries a 5xx,
so each was sent three times and then lost.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from ..conftest import REPORT_SECRET
from ..reports import make_report, signed

START = {
    "phase": "start",
    "finished_at": None,
    "duration_ms": None,
    "outcome": None,
    "exit_code": None,
}


async def refused(client: TestClient, body: dict | bytes) -> dict:
    data, headers = signed(body, REPORT_SECRET)
    response = await client.post("/v1/reports", data=data, headers=headers)
    answer = await response.json()
    assert response.status == 400, answer
    assert "Traceback" not in json.dumps(answer)
    return answer


async def nothing_stored(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0


async def test_a_nul_character_in_a_string_is_refused(client, db) -> None:
    answer = await refused(client, make_report(task="deploy\x00prod"))
    assert answer["fields"] == {"task": "must not contain NUL characters or lone surrogates"}
    await nothing_stored(db)


async def test_a_lone_surrogate_is_refused(client, db) -> None:
    body = json.dumps(make_report(actor="\ud800")).encode()
    assert b'"\\ud800"' in body
    answer = await refused(client, body)
    assert set(answer["fields"]) == {"actor"}
    await nothing_stored(db)


async def test_a_timestamp_that_overflows_in_utc_is_refused(client, db) -> None:
    answer = await refused(client, make_report(started_at="0001-01-01T00:00:00+01:00"))
    assert set(answer["fields"]) == {"started_at"}
    await nothing_stored(db)


async def test_year_one_is_not_stored_as_minus_infinity(client, db) -> None:
    # Stored, it made every later workflow_job webhook for the run fail with a 500.
    answer = await refused(client, make_report(**START, started_at="0001-01-01T00:00:00Z"))
    assert set(answer["fields"]) == {"started_at"}
    await nothing_stored(db)


async def test_a_number_of_over_4300_digits_is_refused(client, db) -> None:
    body = json.dumps(make_report()).replace('"run_id": 1001', '"run_id": ' + "9" * 4301)
    answer = await refused(client, body.encode())
    assert answer["error"] == "invalid_json"
    assert "number" in answer["detail"]
    await nothing_stored(db)


async def test_arrays_nested_30000_deep_are_refused(client, db) -> None:
    answer = await refused(client, b"[" * 30_000 + b"]" * 30_000)
    assert answer["error"] == "invalid_json"
    assert "nests deeper" in answer["detail"]
    await nothing_stored(db)


async def test_nesting_inside_a_field_is_named_or_refused_whole(client, db) -> None:
    nested = json.dumps(make_report()).replace('"CI"', "[" * 3 + "1" + "]" * 3)
    answer = await refused(client, nested.encode())
    assert answer["fields"] == {"workflow": "must be a string"}
    deep = json.dumps(make_report()).replace('"CI"', "[" * 500 + "]" * 500)
    answer = await refused(client, deep.encode())
    assert answer["error"] == "invalid_json"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(client, db, value: str) -> None:
    body = json.dumps(make_report()).replace('"duration_ms": 42000', f'"duration_ms": {value}')
    answer = await refused(client, body.encode())
    assert answer["error"] == "invalid_json"


@pytest.mark.parametrize(
    "when",
    [
        "20261127T100000Z",  # ISO 8601 basic format
        "2026-W48-5T10:00:00+00:00",  # ISO week date
        "2026-11-27T10:00:00+0100",  # offset without a colon
        "2026-11-27 10:00:00Z",  # a space for the T
        "2026-11-27T10:00:00Z\n",
        "2026-02-30T10:00:00Z",  # no such day
        "2026-11-27T10:00:00+24:00",  # no such offset
    ],
)
async def test_timestamps_that_are_not_rfc_3339_are_refused(client, db, when: str) -> None:
    answer = await refused(client, make_report(**START, started_at=when))
    assert set(answer["fields"]) == {"started_at"}
    await nothing_stored(db)


# Fixed dates: the spelling is the point, and no window reads these runs.
@pytest.mark.parametrize("when", ["2026-11-01t12:00:00z", "2026-11-01T12:00:00.123456789-05:30"])
async def test_rfc_3339_variants_are_accepted(client, db, when: str) -> None:
    data, headers = signed(make_report(**START, started_at=when), REPORT_SECRET)
    response = await client.post("/v1/reports", data=data, headers=headers)
    assert response.status == 202, await response.text()


@pytest.mark.parametrize("field", ["duration_ms", "exit_code", "outcome", "finished_at"])
async def test_a_start_carrying_a_finish_field_is_refused(client, db, field: str) -> None:
    finish = make_report()
    start = {**make_report(**START), field: finish[field]}
    answer = await refused(client, start)
    assert answer["fields"] == {field: "is only sent with phase finish"}
    await nothing_stored(db)


@pytest.mark.parametrize("value", ["1.5", "1e-3", "true", '"1"', "1e400"])
async def test_an_integer_field_takes_only_integers(client, db, value: str) -> None:
    body = json.dumps(make_report()).replace('"run_attempt": 1', f'"run_attempt": {value}')
    answer = await refused(client, body.encode())
    assert answer["fields"] == {"run_attempt": "must be an integer"}


async def test_integral_numbers_are_integers_as_json_schema_says(client, db) -> None:
    body = json.dumps(make_report()).replace('"run_attempt": 1', '"run_attempt": 2.0')
    body = body.replace('"duration_ms": 42000', '"duration_ms": 4.2e4')
    data, headers = signed(body.encode(), REPORT_SECRET)
    response = await client.post("/v1/reports", data=data, headers=headers)
    assert response.status == 202, await response.text()
    row = await db.fetchrow("SELECT run_attempt, duration_ms FROM task_runs")
    assert tuple(row) == (2, 42_000)


async def test_a_64_hex_sha_is_refused_as_the_action_sends_40(client, db) -> None:
    answer = await refused(client, make_report(sha="a" * 64))
    assert answer["fields"] == {"sha": "must be 40 lowercase hexadecimal digits"}
