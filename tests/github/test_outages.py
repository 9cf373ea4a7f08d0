"""GitHub failing for a long stretch: comments, reactions and replies wait and land; writes
GitHub keeps refusing are abandoned.

The workers run one pass at a time (``run_once``), and time between passes is simulated
by moving the outbox rows' ``not_before`` to now: hours of outage take no real waiting.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter.github.client import GitHubClient
from heatmeter.github.credentials import TokenAuth
from heatmeter.happiness import feedback
from heatmeter.outbox import answers
from heatmeter.outbox import comment as comment_kind
from heatmeter.outbox.kind import Context
from heatmeter.outbox.retries import OUTAGE_CAP_S, next_try, refusal_schedule
from heatmeter.outbox.sticky import MARKER
from heatmeter.outbox.worker import OutboxWorker
from heatmeter.settings import Settings

from ..conftest import REPORT_SECRET
from ..reports import make_report, signed
from ..test_metrics import scrape
from .fake_github import FakeGitHub

REPOSITORY = "octo-org/octo-repo"
PR = 7
TOKEN = "ghp_outage_test"
ANY_REPO_PATH = "/repos/*"

# Every way GitHub fails while it is down, each as the fake plays it.
OUTAGES: dict[str, Callable[[FakeGitHub], None]] = {
    "502": lambda fake: fake.fail("*", ANY_REPO_PATH, 502, times=1000),
    "503 with Retry-After": lambda fake: fake.fail(
        "*", ANY_REPO_PATH, 503, headers={"Retry-After": "120"}, times=1000
    ),
    "429": lambda fake: fake.fail(
        "*", ANY_REPO_PATH, 429, headers={"Retry-After": "60"}, times=1000
    ),
    "secondary rate limit": lambda fake: fake.fail(
        "*",
        ANY_REPO_PATH,
        403,
        body={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "60"},
        times=1000,
    ),
    "connection reset": lambda fake: fake.disconnect("*", ANY_REPO_PATH, times=1000),
    "timeout": lambda fake: fake.stall("*", ANY_REPO_PATH, times=1000),
    # Reading works, writing does not: the POST may or may not have reached GitHub.
    "the write resets": lambda fake: fake.disconnect("POST", ANY_REPO_PATH, times=1000),
    "the write times out": lambda fake: fake.stall("POST", ANY_REPO_PATH, times=1000),
}


class InstantSleep:
    """The GitHub client's waits between retries, counted but not slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def outage_client(http: aiohttp.ClientSession, fake_github: FakeGitHub) -> GitHubClient:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    return GitHubClient(
        http,
        TokenAuth(TOKEN),
        api_url=fake_github.url,
        budget_s=5.0,
        # Short, because the "timeout" outage waits for it for real.
        request_timeout_s=0.2,
        sleep=InstantSleep(),
    )


@pytest.fixture
async def worker(
    pool: asyncpg.Pool, fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> OutboxWorker:
    github = outage_client(http, fake_github)
    return OutboxWorker(comment_kind.KIND, Context(pool, Settings(comment_debounce_s=0), github))


async def report(client: TestClient, run_id: int) -> None:
    body, headers = signed(make_report(run_id=run_id), REPORT_SECRET)
    response = await client.post("/v1/reports", data=body, headers=headers)
    assert response.status == 202, await response.text()


async def outbox_row(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow(
        """SELECT *, extract(epoch FROM not_before - now())::float8 AS wait_s
           FROM comment_outbox WHERE repository = $1 AND pull_request = $2""",
        REPOSITORY,
        PR,
    )
    assert row is not None, "the comment request was dropped"
    return row


async def time_passes(db: asyncpg.Connection) -> None:
    """As if the row's wait were over."""
    await db.execute("UPDATE comment_outbox SET not_before = now() WHERE not_before IS NOT NULL")


def marked(fake: FakeGitHub) -> list[dict]:
    return [c for c in fake.comments(REPOSITORY, PR) if MARKER in c["body"]]


async def test_a_long_outage_of_every_kind_delays_the_comment_and_never_drops_it(
    client: TestClient, worker: OutboxWorker, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await report(client, run_id=1)
    waited = 0.0
    # Three rounds of every kind of failure: far more failures than a refused write is
    # allowed, and, counting the waits between them, more than an hour of outage.
    for round_ in range(3):
        for kind, outage in OUTAGES.items():
            fake_github.recover()
            outage(fake_github)
            assert await worker.run_once() == 1
            row = await outbox_row(db)
            assert row["abandoned_at"] is None, kind
            assert row["refusals"] == 0, kind
            assert row["last_error"].startswith("GitHubUnavailable"), (kind, row["last_error"])
            assert 0 < row["wait_s"] <= max(OUTAGE_CAP_S, 120) + 1, kind
            waited += row["wait_s"]
            if round_ == 2 and kind == "502":
                # Another report meanwhile: the comment must end up showing it too.
                await report(client, run_id=2)
            await time_passes(db)
    assert waited > 3600
    assert marked(fake_github) == []
    assert await db.fetchval("SELECT count(*) FROM comment_outbox_failing") == 1

    fake_github.recover()
    assert await worker.run_once() == 1
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0
    [comment] = marked(fake_github)
    assert "| 2 |" in comment["body"]  # both runs
    created = [r for r in fake_github.requests_to("POST", "/repos/*/comments") if r.status == 201]
    assert len(created) == 1


async def test_a_write_github_keeps_refusing_backs_off_then_is_abandoned_and_shown(
    client: TestClient, worker: OutboxWorker, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    await report(client, run_id=1)
    # The App lost access to the repository: a 403 that is no rate limit.
    refusal = {"message": "Resource not accessible by integration"}
    fake_github.fail("GET", ANY_REPO_PATH, 403, body=refusal, times=1000)

    waits = []
    for refusals in range(1, 8):
        assert await worker.run_once() == 1
        row = await outbox_row(db)
        assert (row["refusals"], row["abandoned_at"]) == (refusals, None)
        assert "403" in row["last_error"]
        waits.append(row["wait_s"])
        await time_passes(db)
    # Growing waits: 1, 2, 4, … minutes, capped at an hour.
    assert [round(w / 60) for w in waits] == [1, 2, 4, 8, 16, 32, 60]

    assert await worker.run_once() == 1  # the eighth refusal
    [abandoned] = await db.fetch("SELECT * FROM comment_outbox_abandoned")
    assert (abandoned["repository"], abandoned["pull_request"]) == (REPOSITORY, PR)
    assert abandoned["refusals"] == 8
    assert "403" in abandoned["last_error"]
    assert await db.fetchval("SELECT count(*) FROM comment_outbox_failing") == 0
    await time_passes(db)
    assert await worker.run_once() == 0  # given up: nobody claims it

    samples = await scrape(client)
    assert samples[("heatmeter_comment_outbox_abandoned", ())] == 1
    assert samples[("heatmeter_comment_outbox_rows", ())] == 0
    assert samples[("heatmeter_comment_outbox_oldest_seconds", ())] == 0
    # The same, per kind, as every kind of the outbox is counted.
    assert samples[("heatmeter_outbox_abandoned", (("kind", "comment"),))] == 1
    assert samples[("heatmeter_outbox_waiting", (("kind", "comment"),))] == 0

    # Access granted again, and a new report for the PR: the write starts afresh.
    fake_github.recover()
    await report(client, run_id=2)
    row = await outbox_row(db)
    assert (row["abandoned_at"], row["attempts"], row["refusals"]) == (None, 0, 0)
    assert await worker.run_once() == 1
    assert len(marked(fake_github)) == 1
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0


async def test_a_crash_on_every_try_is_abandoned_rather_than_retried_forever(
    client: TestClient,
    worker: OutboxWorker,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heatmeter.outbox import comment as comment_kind

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug in rendering")

    monkeypatch.setattr(comment_kind, "render_summary", broken)
    await report(client, run_id=1)
    for _ in range(8):
        assert await worker.run_once() == 1
        await time_passes(db)
    [abandoned] = await db.fetch("SELECT last_error FROM comment_outbox_abandoned")
    assert "a bug in rendering" in abandoned["last_error"]


def test_the_refusal_schedule_spans_about_two_hours() -> None:
    schedule = refusal_schedule()
    assert schedule == [60, 120, 240, 480, 960, 1920, 3600]
    assert 2 * 3600 - 600 < sum(schedule) < 2 * 3600 + 600


def test_outages_never_abandon_and_wait_at_most_ten_minutes_unless_asked() -> None:
    for attempts in range(1, 200):
        decision = next_try(attempts=attempts, refusals=7, refused=False)
        assert not decision.abandon
        assert decision.delay_s <= OUTAGE_CAP_S
    assert next_try(attempts=1, refusals=0, refused=False, retry_after=900).delay_s == 900
    assert next_try(attempts=3, refusals=0, refused=False).delay_s == 8


class FeedbackWorkers:
    """The reaction and reply kinds' workers, one pass of each."""

    def __init__(self, context: Context) -> None:
        self.workers = [
            OutboxWorker(kind, context) for kind in (answers.REACTION_KIND, answers.REPLY_KIND)
        ]

    async def run_once(self) -> int:
        return sum([await worker.run_once() for worker in self.workers])


@pytest.fixture
def feedback_worker(
    pool: asyncpg.Pool, fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> FeedbackWorkers:
    return FeedbackWorkers(Context(pool, Settings(), outage_client(http, fake_github)))


async def feedback_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM outbox WHERE kind IN ('reaction', 'reply') AND done_at IS NULL "
        "ORDER BY key, kind"
    )


async def feedback_time_passes(db: asyncpg.Connection) -> None:
    await db.execute("UPDATE outbox SET not_before = now() WHERE not_before IS NOT NULL")


async def test_reactions_and_replies_wait_out_a_long_outage_and_land_once(
    feedback_worker: FeedbackWorkers, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    rated = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 4")
    malformed = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate eleven")
    await feedback.acknowledge(db, REPOSITORY, PR, rated["id"])
    await feedback.show_syntax(db, REPOSITORY, PR, malformed["id"], "the score is not 1-5")

    for _ in range(2):
        for kind, outage in OUTAGES.items():
            fake_github.recover()
            outage(fake_github)
            assert await feedback_worker.run_once() == 2
            rows = await feedback_rows(db)
            assert len(rows) == 2, kind
            for row in rows:
                assert (row["abandoned_at"], row["refusals"]) == (None, 0), kind
                assert row["last_error"].startswith("GitHubUnavailable"), kind
            await feedback_time_passes(db)
    # More failed tries than a refused write is allowed, and not given up.
    assert min(row["attempts"] for row in await feedback_rows(db)) > 8

    fake_github.recover()
    assert await feedback_worker.run_once() == 2
    assert await feedback_rows(db) == []
    assert [r["content"] for r in fake_github.reactions(rated["id"])] == ["+1"]
    marker = f"reply-to:{malformed['id']}"
    replies = [c for c in fake_github.comments(REPOSITORY, PR) if marker in c["body"]]
    assert len(replies) == 1


async def test_a_reaction_github_keeps_refusing_is_abandoned_and_shown(
    client: TestClient,
    feedback_worker: FeedbackWorkers,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> None:
    rated = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 4")
    await feedback.acknowledge(db, REPOSITORY, PR, rated["id"])
    refusal = {"message": "Resource not accessible by integration"}
    fake_github.fail("POST", "/repos/*/reactions", 403, body=refusal, times=1000)

    for refusals in range(1, 9):
        assert await feedback_worker.run_once() == 1
        [row] = await db.fetch("SELECT refusals FROM outbox WHERE kind = 'reaction'")
        assert row["refusals"] == refusals
        await feedback_time_passes(db)
    [abandoned] = await db.fetch("SELECT * FROM comment_feedback_abandoned")
    assert (abandoned["comment_id"], abandoned["kind"], abandoned["refusals"]) == (
        rated["id"],
        "reaction",
        8,
    )
    assert await feedback_worker.run_once() == 0
    samples = await scrape(client)
    assert samples[("heatmeter_comment_feedback_abandoned", ())] == 1

    # Access granted again and the rating edited: the reaction is owed afresh, and lands.
    fake_github.recover()
    await feedback.acknowledge(db, REPOSITORY, PR, rated["id"])
    assert await feedback_worker.run_once() == 1
    assert [r["content"] for r in fake_github.reactions(rated["id"])] == ["+1"]
