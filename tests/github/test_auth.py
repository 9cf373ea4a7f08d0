"""Tests of who heatmeter is on GitHub: tokens, App installations, their caches."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import gidgethub
import jwt
import pytest
from structlog.testing import capture_logs

from heatmeter.github.client import GitHubClient, GitHubRefused
from heatmeter.github.credentials import AppAuth, TokenAuth, auth_from_settings
from heatmeter.outbox.sticky import upsert_comment
from heatmeter.settings import Settings, SettingsError

from .conftest import INSTALLATION_ID, REPOSITORY
from .fake_github import FakeGitHub


async def test_token_auth_sends_the_token(http: aiohttp.ClientSession, fake_github: FakeGitHub):
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token("ghp_plain")
    auth = TokenAuth("ghp_plain")

    await upsert_comment(GitHubClient(http, auth, api_url=fake_github.url), REPOSITORY, 1, "hi")

    assert {r.headers["Authorization"] for r in fake_github.requests} == {"token ghp_plain"}
    assert "ghp_plain" not in auth.describe() + repr(auth)


async def test_app_finds_the_installation_with_its_jwt(
    app_auth: AppAuth, fake_github: FakeGitHub, app_private_key: str
):
    token = await app_auth.token(REPOSITORY)

    assert token == fake_github.minted_tokens[-1]
    (lookup,) = fake_github.requests_to("GET", f"/repos/{REPOSITORY}/installation")
    scheme, _, app_jwt = lookup.headers["Authorization"].partition(" ")
    assert scheme.lower() == "bearer"
    assert jwt.decode(app_jwt, options={"verify_signature": False})["iss"] == str(
        fake_github.app_id
    )
    (mint,) = fake_github.requests_to("POST", "/app/installations/*/access_tokens")
    assert mint.path == f"/app/installations/{INSTALLATION_ID}/access_tokens"


async def test_repository_names_are_case_insensitive(app_auth: AppAuth, fake_github: FakeGitHub):
    await app_auth.token(REPOSITORY)
    await app_auth.token(REPOSITORY.upper())

    assert len(fake_github.requests_to("GET", "/repos/*/installation")) == 1
    assert len(fake_github.minted_tokens) == 1


async def test_a_remembered_installation_needs_no_lookup(
    app_auth: AppAuth, fake_github: FakeGitHub
):
    app_auth.remember_installation(REPOSITORY, INSTALLATION_ID)

    await app_auth.token(REPOSITORY)

    assert fake_github.requests_to("GET", "/repos/*/installation") == []
    assert len(fake_github.minted_tokens) == 1


async def test_a_stale_installation_is_looked_up_again(app_auth: AppAuth, fake_github: FakeGitHub):
    app_auth.remember_installation(REPOSITORY, 99)  # since uninstalled and installed again

    with pytest.raises(gidgethub.BadRequest):
        await app_auth.token(REPOSITORY)
    await app_auth.token(REPOSITORY)

    assert [r.path for r in fake_github.requests] == [
        "/app/installations/99/access_tokens",
        f"/repos/{REPOSITORY}/installation",
        f"/app/installations/{INSTALLATION_ID}/access_tokens",
    ]


async def test_a_burst_mints_one_token_and_reuses_it(app_auth: AppAuth, fake_github: FakeGitHub):
    tokens = await asyncio.gather(*(app_auth.token(REPOSITORY) for _ in range(20)))
    again = await app_auth.token(REPOSITORY)

    assert set(tokens) == {again} == set(fake_github.minted_tokens)
    assert len(fake_github.requests_to("GET", "/repos/*/installation")) == 1
    assert len(fake_github.requests_to("POST", "/app/installations/*/access_tokens")) == 1


async def test_a_token_near_expiry_is_replaced(
    http: aiohttp.ClientSession, fake_github: FakeGitHub, app_private_key: str
):
    fake_github.add_repository(REPOSITORY, installation_id=INSTALLATION_ID)
    now = [time.time()]
    auth = AppAuth(http, fake_github.url, fake_github.app_id, app_private_key, clock=lambda: now[0])

    first = await auth.token(REPOSITORY)
    now[0] += fake_github.token_lifetime_s - 6 * 60
    assert await auth.token(REPOSITORY) == first
    now[0] += 2 * 60  # four minutes left: inside the five-minute margin
    second = await auth.token(REPOSITORY)

    assert second != first
    assert fake_github.minted_tokens == [first, second]


async def test_forget_mints_a_new_token_and_looks_the_installation_up_again(
    app_auth: AppAuth, fake_github: FakeGitHub
):
    await app_auth.token(REPOSITORY)
    app_auth.forget(REPOSITORY)
    await app_auth.token(REPOSITORY)

    assert len(fake_github.minted_tokens) == 2
    assert len(fake_github.requests_to("GET", "/repos/*/installation")) == 2


async def test_an_uninstalled_repository_is_a_404(app_auth: AppAuth, fake_github: FakeGitHub):
    fake_github.add_repository("octo/elsewhere")

    with pytest.raises(gidgethub.BadRequest) as raised:
        await app_auth.token("octo/elsewhere")

    assert raised.value.status_code == 404


async def test_comments_on_an_uninstalled_repository_are_refused(
    http: aiohttp.ClientSession, app_auth: AppAuth, fake_github: FakeGitHub
):
    fake_github.add_repository("octo/elsewhere")

    client = GitHubClient(http, app_auth, api_url=fake_github.url)
    with pytest.raises(GitHubRefused) as raised:
        await upsert_comment(client, "octo/elsewhere", 1, "hi")

    assert raised.value.status == 404


def test_app_owns_its_own_comments_only(app_auth: AppAuth):
    mine = {"performed_via_github_app": {"id": 4242}, "user": {"type": "Bot"}}
    another_app = {"performed_via_github_app": {"id": 1}, "user": {"type": "Bot"}}
    bot_without_app = {"performed_via_github_app": None, "user": {"type": "Bot"}}
    person = {"performed_via_github_app": None, "user": {"type": "User"}}

    assert [app_auth.owns(c) for c in (mine, another_app, bot_without_app, person)] == [
        True,
        False,
        True,
        False,
    ]


async def test_auth_from_settings(http: aiohttp.ClientSession, app_private_key: str):
    app = auth_from_settings(
        Settings(github_app_id="12", github_app_private_key=app_private_key, github_token="t"),
        http,
    )
    token = auth_from_settings(Settings(github_token="ghp_x"), http)

    assert isinstance(app, AppAuth)
    assert app.describe() == "GitHub App 12"
    assert isinstance(token, TokenAuth)
    assert auth_from_settings(Settings(), http) is None


async def test_a_bad_app_key_fails_at_start_up_without_showing_it(http: aiohttp.ClientSession):
    key = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"

    with pytest.raises(SettingsError) as raised:
        auth_from_settings(Settings(github_app_id="12", github_app_private_key=key), http)

    assert "GITHUB_APP_PRIVATE_KEY" in str(raised.value)
    assert "bm90IGEga2V5" not in str(raised.value)


async def test_half_an_app_falls_back_and_says_so(http: aiohttp.ClientSession):
    with capture_logs() as logs:
        auth = auth_from_settings(Settings(github_app_id="12", github_token="ghp_x"), http)

    assert isinstance(auth, TokenAuth)
    assert [e["missing"] for e in logs if e["event"] == "github app incomplete"] == [
        "GITHUB_APP_PRIVATE_KEY"
    ]


async def test_no_secret_reaches_a_log_line_or_an_error(
    http: aiohttp.ClientSession, app_auth: AppAuth, fake_github: FakeGitHub, app_private_key: str
):
    fake_github.fail("POST", "/repos/*/comments", 502, times=1)
    fake_github.fail("PATCH", "/repos/*/comments/*", 401, times=1)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = GitHubClient(http, app_auth, api_url=fake_github.url, sleep=sleep)
    with capture_logs() as logs:
        comment_id = await upsert_comment(client, REPOSITORY, 3, "v1")
        await upsert_comment(client, REPOSITORY, 3, "v2", comment_id=comment_id)
        fake_github.fail("PATCH", "/repos/*/comments/*", 403, times=1)
        with pytest.raises(GitHubRefused) as refused:
            await upsert_comment(client, REPOSITORY, 3, "v3", comment_id=comment_id)

    app_jwts = {
        r.headers["Authorization"].split()[1]
        for r in fake_github.requests
        if r.headers.get("Authorization", "").lower().startswith("bearer ")
    }
    secrets = [*fake_github.minted_tokens, *app_jwts, app_private_key.splitlines()[1]]
    assert len(fake_github.minted_tokens) == 2
    assert app_jwts
    assert waits
    text = repr(logs) + str(refused.value) + repr(app_auth) + app_auth.describe()
    assert {"github retry", "github token refused; reauthorizing"} <= {e["event"] for e in logs}
    assert [s for s in secrets if s in text] == []
