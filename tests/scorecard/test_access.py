"""HEATMETER_READ_TOKEN: every route that shows data needs it, as a bearer or a cookie."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from heatmeter.app import create_app
from heatmeter.scorecard.access import COOKIE, local_path, session_value
from heatmeter.settings import Settings

from .seed import seed_known_history

TOKEN = "read-token-\u00e9-42"  # non-ASCII on purpose: compared as bytes
# GET routes that show no stored data: probes, the API's description, the sign-in form.
# /metrics shows request and outbox counters, no task data, and Prometheus scrapes it.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/signin"}


@pytest.fixture
async def guarded(
    aiohttp_client: Callable[..., TestClient], settings: Settings, db: asyncpg.Connection
) -> TestClient:
    await seed_known_history(db)
    app = create_app(dataclasses.replace(settings, read_token=TOKEN))
    return await aiohttp_client(app)


def read_paths(app: web.Application) -> list[str]:
    """Every GET path of the app that is not public, with path variables filled in."""
    paths = []
    for resource in app.router.resources():
        if not any(route.method == "GET" for route in resource):
            continue
        path = resource.canonical
        if path in PUBLIC:
            continue
        paths.append(re.sub(r"\{[^}]+\}", "deploy", path))
    return paths


async def test_every_read_route_is_guarded(guarded: TestClient) -> None:
    paths = read_paths(guarded.app)
    assert {"/", "/.json", "/v1/summary", "/tasks/deploy", "/tasks/deploy.json"} <= set(paths)
    for path in paths:
        for method in ("GET", "HEAD"):
            response = await guarded.request(method, path, allow_redirects=False)
            assert response.status in (303, 401), (method, path, response.status)
            if response.status == 303:
                assert response.headers["Location"].startswith("/signin?next=")
        body = await (await guarded.get(path, allow_redirects=False)).read()
        # None of the seeded figures (86 % success, 2 of 3 repositories) leaks.
        assert b"0.8571" not in body
        assert b"86 %" not in body
        assert b"octo/" not in body
        for headers in ({"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE}=nope"}):
            response = await guarded.get(path, headers=headers, allow_redirects=False)
            assert response.status in (303, 401), (path, headers)
        ok = await guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status == 200, path


async def test_the_api_answers_401_json(guarded: TestClient) -> None:
    response = await guarded.get("/v1/summary")
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


async def test_signing_in_sets_a_strict_http_only_cookie(guarded: TestClient) -> None:
    form = await guarded.get("/", allow_redirects=True)
    assert "signin" in await form.text()
    wrong = await guarded.post(
        "/signin", data={"token": "guess", "next": "/tasks/deploy"}, allow_redirects=False
    )
    assert wrong.status == 401
    assert COOKIE not in wrong.cookies
    right = await guarded.post(
        "/signin", data={"token": TOKEN, "next": "/tasks/deploy"}, allow_redirects=False
    )
    assert right.status == 303
    assert right.headers["Location"] == "/tasks/deploy"
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http in the test
    assert TOKEN not in cookie  # an HMAC of it, not the token
    page = await guarded.get("/tasks/deploy", allow_redirects=False)
    assert page.status == 200


async def test_the_cookie_is_secure_behind_https(guarded: TestClient) -> None:
    right = await guarded.post(
        "/signin",
        data={"token": TOKEN},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert "Secure" in right.headers["Set-Cookie"]


async def test_a_cookie_made_for_another_token_does_not_work(guarded: TestClient) -> None:
    response = await guarded.get(
        "/", headers={"Cookie": f"{COOKIE}={session_value('old-token')}"}, allow_redirects=False
    )
    assert response.status == 303


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tasks/x?period=7d", "/tasks/x?period=7d"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
        ("/a\r\nb", "/"),
    ],
)
def test_sign_in_only_redirects_within_the_site(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


async def test_without_a_token_everything_is_open(client: TestClient, db: asyncpg.Connection):
    for path in read_paths(client.app):
        assert (await client.get(path)).status in (200, 404), path
    form = await client.get("/signin")
    assert "no read token" in await form.text()
