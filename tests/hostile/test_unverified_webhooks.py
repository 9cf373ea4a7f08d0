"""Webhook bodies nobody has verified yet: refused from the headers unread, and few at once.

GitHub's signature covers the whole body, so a body must be read before it can be
trusted (service/heatmeter/webhooks/unverified.py says how that is bounded). These tests
hold bodies half-sent on raw connections and wait for the service to say it is reading
them (its own gauge), never for a duration.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.appkeys import metrics_key
from heatmeter.settings import Settings, SettingsError

from ..conftest import serve_app
from ..test_webhooks import WEBHOOK_SECRET
from ..webhooks import payload, webhook_request
from .test_clients import RawConnection, request_head

PLACES = 2


@pytest.fixture
async def guarded(aiohttp_client, settings: Settings, db: asyncpg.Connection) -> TestClient:
    """The service with room for two unverified webhook bodies at once."""
    return await serve_app(aiohttp_client, replace(settings, webhook_unverified_bodies=PLACES))


def unverified_now(client: TestClient) -> float:
    registry = client.server.app[metrics_key].registry
    return registry.get_sample_value("heatmeter_webhook_bodies_unverified") or 0.0


async def until_unverified(client: TestClient, count: int) -> None:
    """Wait until the service is reading ``count`` bodies it has not verified yet."""
    while unverified_now(client) != count:
        await asyncio.sleep(0.01)


async def half_sent(client: TestClient) -> tuple[RawConnection, bytes]:
    """A signed ping whose headers and first half are sent; the rest is returned."""
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    connection = await RawConnection.open(client)
    head = request_head("/webhooks/github", {**headers, "Content-Length": str(len(body))})
    await connection.send(head + body[: len(body) // 2])
    return connection, body[len(body) // 2 :]


def without(header: str) -> dict[str, str]:
    _, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    del headers[header]
    return headers


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        (without("X-Hub-Signature-256"), 401, "bad_signature"),
        ({**without("X-Hub-Signature-256"), "X-Hub-Signature-256": "sha1=" + "0" * 40}, 401,
         "bad_signature"),
        ({**without("X-GitHub-Event")}, 400, "bad_event"),
        ({**without("Content-Type"), "Content-Type": "text/plain"}, 415,
         "unsupported_media_type"),
    ],
)  # fmt: skip
async def test_a_refusal_from_the_headers_closes_the_connection_with_the_body_unread(
    client: TestClient, headers: dict[str, str], status: int, error: str
) -> None:
    connection = await RawConnection.open(client)
    # 20 MB declared, none of it sent: the answer comes from the headers alone, and the
    # connection ends with it instead of being drained of 20 MB nobody will use.
    await connection.send(
        request_head("/webhooks/github", {**headers, "Content-Length": str(20_000_000)})
    )
    answer = await connection.answer()
    assert (answer.status, answer.json()["error"]) == (status, error)
    assert answer.headers.get("connection") == "close"
    assert await connection.closed_by_server()
    assert unverified_now(client) == 0


async def test_unverified_bodies_in_flight_are_limited_and_the_rest_told_to_retry(
    guarded: TestClient, db: asyncpg.Connection
) -> None:
    reading = [await half_sent(guarded) for _ in range(PLACES)]
    await until_unverified(guarded, PLACES)

    # One more: refused at once, before its body, with the connection closed.
    extra, _ = await half_sent(guarded)
    answer = await extra.answer()
    assert (answer.status, answer.json()["error"]) == (503, "webhooks_busy")
    assert answer.headers["retry-after"].isdigit()
    assert answer.headers.get("connection") == "close"
    assert await extra.closed_by_server()

    # The bodies being read finish, are verified, and are handled as any other.
    for connection, rest in reading:
        await connection.send(rest)
        assert (await connection.answer()).status == 200
        connection.close()
    assert unverified_now(guarded) == 0
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == PLACES

    # The places are free again, for a wrong signature too (which gives its place back).
    body, headers = webhook_request("ping", payload("ping.with-app_id"), "not-the-secret")
    response = await guarded.post("/webhooks/github", data=body, headers=headers)
    assert (response.status, (await response.json())["error"]) == (401, "bad_signature")
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    response = await guarded.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 200
    assert unverified_now(guarded) == 0


async def test_a_stalled_unverified_body_gives_its_place_back(
    aiohttp_client, settings: Settings, db: asyncpg.Connection
) -> None:
    impatient = await serve_app(
        aiohttp_client, replace(settings, webhook_unverified_bodies=1, body_timeout_s=0.2)
    )
    connection, _ = await half_sent(impatient)
    answer = await connection.answer()  # the body timeout, injected short, cuts it off
    assert (answer.status, answer.json()["error"]) == (408, "body_timeout")
    assert unverified_now(impatient) == 0
    body, headers = webhook_request("ping", payload("ping.with-app_id"), WEBHOOK_SECRET)
    response = await impatient.post("/webhooks/github", data=body, headers=headers)
    assert response.status == 200


def test_the_limit_is_a_setting_of_at_least_one() -> None:
    env = {"GITHUB_WEBHOOK_SECRET": "s"}
    assert Settings.from_env(env).webhook_unverified_bodies == 8
    assert Settings.from_env({**env, "HEATMETER_WEBHOOK_UNVERIFIED_BODIES": "3"}) == replace(
        Settings.from_env(env), webhook_unverified_bodies=3
    )
    with pytest.raises(SettingsError, match="HEATMETER_WEBHOOK_UNVERIFIED_BODIES"):
        Settings.from_env({**env, "HEATMETER_WEBHOOK_UNVERIFIED_BODIES": "0"})
