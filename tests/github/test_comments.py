"""Tests of the sticky PR comment against a fake GitHub over real HTTP: edits, finds, retries."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from heatmeter.github.client import GitHubClient, GitHubRefused, GitHubUnavailable
from heatmeter.github.credentials import AppAuth, GitHubAuth
from heatmeter.outbox.marker import with_marker
from heatmeter.outbox.sticky import MARKER, upsert_comment

from .conftest import REPOSITORY
from .fake_github import FakeGitHub

PR = 12
# The client's wall clock, fixed: GitHub's reset instants are read against it, so the
# waits they ask for are exact however long the test takes.
NOW = float(int(time.time()))


class RecordedSleep:
    """An injected sleep that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def upsert(
    http: aiohttp.ClientSession, app_auth: AppAuth, fake_github: FakeGitHub, sleep: RecordedSleep
):
    """``upsert_comment`` on ``REPOSITORY`` PR 12 with the fake, the App and a recorded sleep."""

    async def call(body: str, **kwargs: Any) -> int:
        options: dict[str, Any] = {
            "api_url": fake_github.url,
            "sleep": sleep,
            "clock": lambda: NOW,
            **kwargs,
        }
        auth: GitHubAuth = options.pop("auth", app_auth)
        comment_id = options.pop("comment_id", None)
        client = GitHubClient(http, auth, **options)
        return await upsert_comment(client, REPOSITORY, PR, body, comment_id=comment_id)

    return call


def bodies(fake: FakeGitHub) -> list[str]:
    return [c["body"].removeprefix(f"{MARKER}\n") for c in fake.comments(REPOSITORY, PR)]


async def test_first_call_creates_and_the_next_edits_the_same_comment(upsert, fake_github):
    first = await upsert("one")
    second = await upsert("two", comment_id=first)

    assert second == first
    assert bodies(fake_github) == ["two"]
    assert [(w.method, w.status) for w in fake_github.writes] == [("POST", 201), ("PATCH", 200)]
    assert fake_github.writes[0].json == {"body": with_marker(MARKER, "one")}


async def test_without_an_id_the_comment_is_found_by_its_marker(upsert, fake_github):
    first = await upsert("one")

    assert await upsert("two") == first
    assert bodies(fake_github) == ["two"]


async def test_a_deleted_comment_is_recreated(upsert, fake_github):
    first = await upsert("one")
    fake_github.delete_comment(first)

    second = await upsert("two", comment_id=first)

    assert second != first
    assert bodies(fake_github) == ["two"]
    assert [(w.method, w.status) for w in fake_github.writes][1:] == [
        ("PATCH", 404),
        ("POST", 201),
    ]


async def test_the_marker_is_found_on_the_second_page(upsert, fake_github):
    for n in range(130):
        fake_github.add_comment(REPOSITORY, PR, f"looks good {n}")
    ours = fake_github.add_comment(REPOSITORY, PR, with_marker(MARKER, "old"), by_app=True)
    fake_github.add_comment(REPOSITORY, PR, "after")

    assert await upsert("new") == ours["id"]
    listings = fake_github.requests_to("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments")
    assert [r.query.get("page", "1") for r in listings] == ["1", "2"]
    assert [w.method for w in fake_github.writes] == ["PATCH"]
    assert fake_github.comments(REPOSITORY, PR)[130]["body"] == with_marker(MARKER, "new")


async def test_a_person_quoting_the_marker_is_not_edited(upsert, fake_github):
    theirs = fake_github.add_comment(REPOSITORY, PR, f"what is {MARKER} for?")

    ours = await upsert("numbers")

    assert ours != theirs["id"]
    assert theirs["body"] == f"what is {MARKER} for?"


async def test_a_502_then_success_ends_updated(upsert, fake_github, sleep):
    first = await upsert("one")
    fake_github.fail("PATCH", "/repos/*/issues/comments/*", 502)

    assert await upsert("two", comment_id=first) == first
    assert bodies(fake_github) == ["two"]
    assert len(sleep.waits) == 1
    assert 0 < sleep.waits[0] <= 0.5


async def test_a_dropped_connection_is_retried(upsert, fake_github, sleep):
    fake_github.disconnect("GET", "/repos/*/issues/*/comments", times=2)
    fake_github.disconnect("POST", "/repos/*/issues/*/comments")

    await upsert("one")

    assert bodies(fake_github) == ["one"]
    assert len(sleep.waits) == 2


async def test_a_create_that_failed_after_creating_is_not_repeated(upsert, fake_github, sleep):
    # GitHub made the comment but answered 502: looking again finds it, so no second one.
    fake_github.fail("POST", "/repos/*/issues/*/comments", 502, after=True)

    created = await upsert("one")

    assert [c["id"] for c in fake_github.comments(REPOSITORY, PR)] == [created]
    assert [w.method for w in fake_github.writes] == ["POST", "PATCH"]


async def test_a_429_honours_retry_after(upsert, fake_github, sleep):
    fake_github.fail("GET", "/repos/*/comments", 429, headers={"Retry-After": "3"})

    await upsert("one")

    assert sleep.waits == [3.0]
    assert bodies(fake_github) == ["one"]


async def test_a_403_with_no_requests_left_waits_for_the_reset(upsert, fake_github, sleep):
    reset = int(NOW) + 5
    fake_github.fail(
        "GET",
        "/repos/*/comments",
        403,
        body={"message": "API rate limit exceeded for installation ID 7."},
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
        },
    )

    await upsert("one")

    assert sleep.waits == [6.0]  # until the reset, and a second of slack
    assert bodies(fake_github) == ["one"]


async def test_a_used_up_rate_limit_is_waited_for_before_the_next_call(upsert, fake_github, sleep):
    # The listing succeeds but spends the installation's last request: the create that
    # follows waits for the reset instead of being refused first.
    fake_github.fail(
        "GET",
        "/repos/*/comments",
        200,
        body=[],
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 5),
        },
    )

    await upsert("one")

    assert sleep.waits == [6.0]
    assert [w.status for w in fake_github.writes] == [201]


async def test_a_rate_limit_past_the_budget_gives_up_at_once(upsert, fake_github, sleep):
    fake_github.fail(
        "GET",
        "/repos/*/comments",
        403,
        body={"message": "API rate limit exceeded"},
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 3600),
        },
    )

    with pytest.raises(GitHubUnavailable) as raised:
        await upsert("one")

    assert sleep.waits == []
    assert raised.value.status == 403
    assert raised.value.retry_after == 3601.0


async def test_a_secondary_limit_naming_no_time_asks_for_a_minute(upsert, fake_github, sleep):
    fake_github.fail(
        "GET",
        "/repos/*/comments",
        403,
        body={"message": "You have exceeded a secondary rate limit"},
    )

    with pytest.raises(GitHubUnavailable) as raised:
        await upsert("one")

    assert raised.value.retry_after == 60.0
    assert sleep.waits == []


async def test_persistent_5xx_gives_up_within_the_budget(upsert, fake_github, sleep):
    fake_github.fail("GET", "/repos/*/comments", 503, times=1000)

    with pytest.raises(GitHubUnavailable) as raised:
        await upsert("one", budget_s=10)

    assert raised.value.status == 503
    assert raised.value.retry_after is None
    assert len(sleep.waits) >= 3
    assert sum(sleep.waits) <= 10
    assert max(sleep.waits) <= 8


async def test_slow_answers_spend_the_budget_as_much_as_waits_do(upsert, fake_github, sleep):
    fake_github.fail("GET", "/repos/*/comments", 502, times=1000)

    def monotonic() -> float:
        """The client's clock: each answer takes a second, each wait what it says."""
        return len(fake_github.requests) * 1.0 + sum(sleep.waits)

    with pytest.raises(GitHubUnavailable):
        await upsert("one", budget_s=5.0, monotonic=monotonic)

    # Finding the installation and minting its token took two seconds, the first listing
    # one more: counting waits alone (under two seconds) would have tried for longer.
    assert len(sleep.waits) <= 2
    assert monotonic() <= 5.0 + 1.0  # never began a wait the budget could not cover


async def test_a_missing_repository_is_refused(upsert, fake_github, sleep):
    fake_github.remove_repository(REPOSITORY)
    fake_github.add_repository("octo/other", installation_id=7)  # the installation lives on

    with pytest.raises(GitHubRefused) as raised:
        await upsert("one", comment_id=5)

    assert raised.value.status == 404
    assert sleep.waits == []


async def test_a_422_is_refused(upsert, fake_github):
    fake_github.fail("POST", "/repos/*/issues/*/comments", 422, body={"message": "Body too long"})

    with pytest.raises(GitHubRefused) as raised:
        await upsert("one")

    assert raised.value.status == 422
    assert "Body too long" in str(raised.value)


async def test_a_permission_403_is_refused_without_waiting(upsert, fake_github, sleep):
    fake_github.fail(
        "POST",
        "/repos/*/issues/*/comments",
        403,
        body={"message": "Resource not accessible by integration"},
    )

    with pytest.raises(GitHubRefused) as raised:
        await upsert("one")

    assert raised.value.status == 403
    assert sleep.waits == []


async def test_a_revoked_token_is_replaced_once(upsert, fake_github, sleep):
    first = await upsert("one")
    fake_github.revoke_tokens()

    assert await upsert("two", comment_id=first) == first
    assert len(fake_github.minted_tokens) == 2
    assert sleep.waits == []


async def test_a_token_that_keeps_failing_is_refused(http, fake_github, sleep):
    fake_github.add_repository(REPOSITORY)

    client = GitHubClient(http, _UnknownToken(), api_url=fake_github.url, sleep=sleep)
    with pytest.raises(GitHubRefused) as raised:
        await upsert_comment(client, REPOSITORY, PR, "body")

    assert raised.value.status == 401
    assert len(fake_github.requests) == 2


class _UnknownToken(GitHubAuth):
    async def token(self, repository: str) -> str:
        return "ghp_unknown"

    def describe(self) -> str:
        return "a token GitHub does not know"
