"""Request bodies decoded within bounds: an object that names a key twice is refused.

Python's json keeps the last of two equal keys, so ``{"outcome": "failure", "outcome":
"success"}`` would be stored as a success while another reader (a proxy, an audit log, a
validator keeping the first) sees a failure. Reports and webhooks refuse such a body with a
400 naming the key, and store nothing.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.http.jsonbody import JsonBodyError, decode_json

from ..conftest import REPORT_SECRET
from ..reports import make_report, signed
from ..test_webhooks import WEBHOOK_SECRET
from ..webhooks import payload, webhook_request


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a": 1, "b": {"c": [1, {"d": 1, "d": 1}]}}', "d"),
        # Equal once decoded: an escape spells the same key.
        (b'{"outcome": "failure", "\\u006futcome": "success"}', "outcome"),
    ],
)
def test_a_key_given_twice_in_one_object_is_refused_by_name(body: bytes, key: str) -> None:
    with pytest.raises(JsonBodyError) as refused:
        decode_json(body, max_depth=10)
    assert f"{key!r}" in str(refused.value)
    assert "twice" in str(refused.value)


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert decode_json(b'[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]', max_depth=10) == [
        {"a": 1},
        {"a": 2},
        {"b": {"a": 3}},
    ]


def test_a_long_key_is_named_shortened() -> None:
    key = "k" * 10_000
    body = json.dumps({key: 1}).encode()[:-1] + b", " + json.dumps(key).encode() + b": 2}"
    with pytest.raises(JsonBodyError) as refused:
        decode_json(body, max_depth=10)
    assert len(str(refused.value)) < 300


def duplicated(document: dict, key: str, value: object) -> bytes:
    """``document`` as JSON with ``key`` written a second time, last, as ``value``."""
    text = json.dumps(document)
    return (text[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}").encode()


def report_naming_outcome_twice() -> tuple[str, bytes, dict[str, str]]:
    body = duplicated(make_report(outcome="failure"), "outcome", "success")
    return ("/v1/reports", *signed(body, REPORT_SECRET))


def webhook_naming_action_twice() -> tuple[str, bytes, dict[str, str]]:
    body = duplicated(payload("pull_request.opened"), "action", "closed")
    return ("/webhooks/github", *webhook_request("pull_request", body, WEBHOOK_SECRET))


@pytest.mark.parametrize(
    ("request_", "error", "key"),
    [
        (report_naming_outcome_twice, "invalid_json", "outcome"),
        (webhook_naming_action_twice, "bad_webhook", "action"),
    ],
)
async def test_a_body_naming_a_key_twice_is_400_and_nothing_is_stored(
    client: TestClient, db: asyncpg.Connection, request_, error: str, key: str
) -> None:
    path, body, headers = request_()
    response = await client.post(path, data=body, headers=headers)
    answer = await response.json()
    assert response.status == 400, answer
    assert answer["error"] == error
    assert f"{key!r}" in answer["detail"]
    for table in ("task_runs", "webhook_deliveries", "pull_requests"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0  # noqa: S608
