"""Filters at the edges of the calendar, over HTTP: a 400 naming the parameter, never a 500.

Each of these was an ``OverflowError`` (a 500) on every scorecard route, from arithmetic on
a window near year 1 or year 9999. Fixed dates are the point here.
"""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from .seed import seed_known_history

QUERIES = [
    ("since=0001-01-01", "since"),
    ("until=0001-01-10&period=7d", "until"),
    ("until=0001-01-02T00:00:00%2B05:00", "until"),
    ("since=9999-12-01&until=9999-12-31", "until"),
    ("since=9999-12-01", "since"),
    ("until=9999-12-31", "until"),
    ("until=9999-12-31T23:00:00-05:00", "until"),
    ("period=%EF%BC%92%EF%BC%98d", "period"),  # fullwidth digits: 28d
]
JSON_ROUTES = ["/.json", "/v1/summary", "/tasks/deploy.json"]


@pytest.mark.parametrize(("query", "parameter"), QUERIES)
@pytest.mark.parametrize("route", JSON_ROUTES)
async def test_json_routes_name_the_parameter(
    client: TestClient, db: asyncpg.Connection, route: str, query: str, parameter: str
) -> None:
    await seed_known_history(db)
    response = await client.get(f"{route}?{query}")
    answer = await response.json()
    assert response.status == 400, answer
    assert (answer["error"], answer["parameter"]) == ("invalid_parameter", parameter)
    assert answer["detail"].startswith(f"{parameter}: ")


@pytest.mark.parametrize(("query", "parameter"), QUERIES)
@pytest.mark.parametrize("route", ["/", "/tasks/deploy"])
async def test_pages_name_the_parameter(
    client: TestClient, db: asyncpg.Connection, route: str, query: str, parameter: str
) -> None:
    await seed_known_history(db)
    response = await client.get(f"{route}?{query}")
    assert response.status == 400
    assert response.content_type == "text/html"
    assert f"{parameter}: " in await response.text()
