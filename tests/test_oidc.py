"""OIDC reports: verified against a local issuer, bound to their repository and run."""

from __future__ import annotations

import json
from dataclasses import replace

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from heatmeter.app import create_app
from heatmeter.reports.trust import OidcVerifier
from heatmeter.settings import Settings

from .oidc_issuer import OidcIssuer
from .reports import make_report


@pytest.fixture
async def client(aiohttp_client, settings: Settings, issuer: OidcIssuer, db) -> TestClient:
    # No shared secret: OIDC is the only way in.
    oidc = replace(settings, report_secret=None, oidc_issuer=issuer.url)
    return await aiohttp_client(create_app(oidc))


async def post(client: TestClient, token: str, **fields):
    return await client.post(
        "/v1/reports",
        data=json.dumps(make_report(**fields)),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )


async def test_a_valid_token_is_accepted(
    client: TestClient, issuer: OidcIssuer, db: asyncpg.Connection
) -> None:
    response = await post(client, issuer.token())
    assert response.status == 202, await response.text()
    assert await db.fetchval("SELECT auth_method FROM task_runs") == "oidc"


@pytest.mark.parametrize(
    ("claims", "status", "detail"),
    [
        ({"aud": "someone-else"}, 401, "audience"),
        ({"exp": 1_000_000_000, "iat": 999_999_000, "nbf": None}, 401, "expired"),
        ({"iss": "https://evil.example"}, 401, "issued"),
        ({"repository": "evil-org/evil-repo"}, 403, "repository"),
        ({"run_id": "999"}, 403, "run_id"),
        ({"run_attempt": "2"}, 403, "run_attempt"),
        ({"repository": None}, 401, "repository"),
    ],
)
async def test_tokens_that_do_not_fit_are_refused(
    client: TestClient,
    issuer: OidcIssuer,
    db: asyncpg.Connection,
    claims: dict,
    status: int,
    detail: str,
) -> None:
    response = await post(client, issuer.token(**claims))
    assert response.status == status
    assert detail in (await response.json())["detail"]
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


async def test_a_tampered_or_foreign_signature_is_refused(
    client: TestClient, issuer: OidcIssuer, db: asyncpg.Connection
) -> None:
    header, payload, signature = issuer.token().split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    assert (await post(client, f"{header}.{payload}.{flipped}")).status == 401

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await post(client, issuer.token(key=stranger))
    assert response.status == 401
    assert "signature" in (await response.json())["detail"]
    assert (await post(client, "not-a-jwt")).status == 401
    assert await db.fetchval("SELECT count(*) FROM task_runs") == 0


async def test_keys_are_cached_and_refreshed_on_an_unknown_key_id(
    client: TestClient, issuer: OidcIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for step in ("a", "b", "c"):
        assert (await post(client, issuer.token(), step=step)).status == 202
    assert issuer.jwks_requests == 1

    # Within a second of a refresh, a new key id is "retry later", never "refused".
    issuer.rotate()
    response = await post(client, issuer.token(), step="rotated")
    assert response.status == 503
    assert response.headers["Retry-After"]

    monkeypatch.setattr(OidcVerifier, "MIN_REFRESH_INTERVAL_S", 0.0)
    assert (await post(client, issuer.token(), step="rotated")).status == 202
    assert issuer.jwks_requests == 2


async def test_an_unreachable_issuer_is_503_not_401(aiohttp_client, settings: Settings) -> None:
    down = replace(settings, report_secret=None, oidc_issuer="http://127.0.0.1:9")
    client = await aiohttp_client(create_app(down))
    response = await post(client, OidcIssuer().token())
    assert response.status == 503
    assert response.headers["Retry-After"]
