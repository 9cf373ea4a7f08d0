"""GET /v1/summary: the scorecard as JSON, valid against its own OpenAPI description."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import clock

from .seed import seed_known_history


async def validator_for(client: TestClient, status: str) -> jsonschema.Draft202012Validator:
    """A validator of /v1/summary's ``status`` answer, straight from /v1/openapi.json."""
    document = await (await client.get("/v1/openapi.json")).json()
    operation = document["paths"]["/v1/summary"]["get"]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    # The document itself is the root its "#/components/..." references resolve against.
    root: dict[str, Any] = {**document, **schema}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


async def test_the_summary_validates_against_the_openapi_schema(
    client: TestClient, db: asyncpg.Connection
) -> None:
    await seed_known_history(db)
    validator = await validator_for(client, "200")
    for query in (
        "",
        "?task=deploy",
        "?repository=octo/a&since=7d",
        # An absolute date with a relative end, both inside any clock's range.
        f"?since={(clock.now() - timedelta(days=120)).date()}&until=60d",
        "?kind=other",
        "?task=none-such",
    ):
        response = await client.get(f"/v1/summary{query}")
        assert response.status == 200, query
        validator.validate(await response.json())
    # The page's JSON twin is the same shape.
    validator.validate(await (await client.get("/.json")).json())


async def test_the_summary_figures(client: TestClient, db: asyncpg.Connection) -> None:
    await seed_known_history(db)
    body = await (await client.get("/v1/summary?task=deploy")).json()
    assert body["filters"] == {"repository": None, "task": "deploy", "kind": None}
    assert body["installed_repositories"] == 3
    (deploy,) = body["tasks"]
    assert deploy["task_success"] == {
        "rate": 0.8571,
        "previous_rate": 1.0,
        "change": -0.1429,
        "decisive_runs": 7,
        "previous_decisive_runs": 5,
        "enough_data": True,
        # Three changes: octo/a's pull request 7, Octo/B's commit, other/x's commit.
        "first_successes": 3,
        "attempts_to_first_success": 1.0,
    }
    assert deploy["efficiency"]["p50_ms"] == 40_000
    assert deploy["efficiency"]["change_pct"] == -60.0
    assert deploy["adoption"]["share"] == 0.6667
    assert deploy["adoption"]["outside_app_repositories"] == 1
    assert deploy["runs"]["cancelled"] == 1
    assert deploy["happiness"] == {
        "mean": 3.5,
        "previous_mean": 5.0,
        "change": -1.5,
        "responses": 4,
        "previous_responses": 3,
        "enough_data": True,
    }


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=last-week", "since"),
        ("until=2026-02-30", "until"),
        ("kind=build", "kind"),
        ("repo=octo/a", "repo"),
        ("since=2026-11-20&until=2026-11-01", "since"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(
    client: TestClient, db: asyncpg.Connection, query: str, parameter: str
) -> None:
    response = await client.get(f"/v1/summary?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == parameter
    assert parameter in body["detail"]
    (await validator_for(client, "400")).validate(body)
