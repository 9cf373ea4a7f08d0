"""`/heatmeter rate` end to end: signed issue_comment webhooks in, reactions and replies out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from heatmeter import clock
from heatmeter.app import create_app
from heatmeter.settings import Settings

from ..heat_seed import insert_runs
from ..support.clock import ago, iso
from ..test_webhooks import deliver
from ..webhooks import payload
from .fake_github import BOT_USER, FakeGitHub

REPOSITORY = "Codertocat/Hello-World"  # the repository of octokit's issue_comment payload
PR = 1
TOKEN = "ghp_test_token"

# Ratings are dated from heatmeter's clock: the scorecard's windows read them.
COMMENTED = ago(hours=6)


def later(hours: int) -> str:
    """A comment's edit time, this many hours after it was written."""
    return iso(COMMENTED + timedelta(hours=hours))


@pytest.fixture
async def service(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    fake_github: FakeGitHub,
    db: asyncpg.Connection,
) -> TestClient:
    fake_github.add_repository(REPOSITORY)
    fake_github.add_token(TOKEN)
    github = replace(
        settings,
        github_token=TOKEN,
        github_api_url=fake_github.url,
        comment_debounce_s=0.05,
        # Small, so that a GitHub outage outlasts one write and the outbox takes over.
        github_retry_budget_s=0.5,
    )
    return await aiohttp_client(create_app(github))


def comment_event(
    action: str,
    comment: dict[str, Any],
    body: str,
    *,
    updated_at: str | None = None,
    user: dict[str, Any] | None = None,
    on_pull_request: bool = True,
) -> dict[str, Any]:
    """octokit's real issue_comment payload, about ``comment`` on the fake GitHub."""
    data = payload("issue_comment.created")
    data["action"] = action
    data["issue"]["number"] = PR
    if on_pull_request:
        data["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPOSITORY}/pulls/{PR}",
            "html_url": f"https://github.com/{REPOSITORY}/pull/{PR}",
        }
    data["comment"].update(
        id=comment["id"],
        body=body,
        html_url=comment["html_url"],
        created_at=iso(COMMENTED),
        updated_at=updated_at or later(1),
    )
    if user is not None:
        data["comment"]["user"] = user
    return data


async def fed_back(db: asyncpg.Connection) -> None:
    """Wait until every owed reaction and reply has been written (or given up on).

    No deadline of its own: however slow the machine, the event is what counts (pytest's
    timeout stops a test that truly hangs).
    """
    while await db.fetchval(
        "SELECT count(*) FROM outbox WHERE kind IN ('reaction', 'reply') "
        "AND done_at IS NULL AND abandoned_at IS NULL"
    ):
        await asyncio.sleep(0.05)


async def response(db: asyncpg.Connection, comment_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM happiness WHERE comment_id = $1", comment_id)


async def test_a_rating_is_stored_acknowledged_edited_and_deleted(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    started = clock.now() - timedelta(hours=1)
    await insert_runs(
        db, [(REPOSITORY, "deploy", None, "success", 1_000, started, "a" * 40, PR, "report")]
    )
    body = "/heatmeter rate 4 deploy quick <b>today</b> @org/team"
    comment = fake_github.add_comment(REPOSITORY, PR, body)
    created = comment_event("created", comment, body)

    status, answer = await deliver(
        service, "issue_comment", created, delivery_id="5f1c1d3e-0c2a-4b7e-9d11-3b6f2a9e8c01"
    )
    assert (status, answer["duplicate"]) == (200, False)
    row = await response(db, comment["id"])
    assert (row["repository"], row["pull_request"], row["author"]) == (REPOSITORY, PR, "Codertocat")
    assert (row["task"], row["score"]) == ("deploy", 4)
    assert row["words"] == "quick <b>today</b> @org/team"  # as written; escaped when shown
    assert row["comment_url"] == comment["html_url"]
    await fed_back(db)
    assert [r["content"] for r in fake_github.reactions(comment["id"])] == ["+1"]
    metrics = await (await service.get("/metrics")).text()
    assert 'heatmeter_comment_feedback_total{kind="reaction",result="written"} 1.0' in metrics

    # Redelivered, or delivered again under a new id: nothing changes, no second reaction.
    status, answer = await deliver(
        service, "issue_comment", created, delivery_id="5f1c1d3e-0c2a-4b7e-9d11-3b6f2a9e8c01"
    )
    assert (status, answer["duplicate"]) == (200, True)
    await deliver(service, "issue_comment", created)
    await fed_back(db)
    assert await response(db, comment["id"]) == row
    assert len(fake_github.requests_to("POST", "/repos/*/reactions")) == 1

    edited_body = "/heatmeter rate 2 deploy waited 10 minutes for a lock"
    edited = comment_event("edited", comment, edited_body, updated_at=later(2))
    await deliver(service, "issue_comment", edited)
    row = await response(db, comment["id"])
    assert (row["score"], row["task"], row["words"]) == (
        2,
        "deploy",
        "waited 10 minutes for a lock",
    )
    # An older edit delivered late does not overwrite the newer one.
    await deliver(service, "issue_comment", comment_event("edited", comment, "/heatmeter rate 5"))
    assert (await response(db, comment["id"]))["score"] == 2

    await deliver(service, "issue_comment", comment_event("deleted", comment, edited_body))
    assert await response(db, comment["id"]) is None
    await fed_back(db)
    assert len(fake_github.requests_to("POST", "/repos/*/reactions")) == 1
    assert fake_github.writes == []  # no reply to a well-formed command

    # The scorecard sees it: one response for deploy, then none once deleted.
    await db.execute("SELECT heat_refresh_rollups()")
    assert await db.fetchval("SELECT happiness_responses FROM heat_scorecard") == 0


async def test_bots_issues_and_ordinary_comments_are_ignored(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    body = "/heatmeter rate 5"
    by_bot = fake_github.add_comment(REPOSITORY, PR, body, by_app=True)
    await deliver(service, "issue_comment", comment_event("created", by_bot, body, user=BOT_USER))
    on_issue = fake_github.add_comment(REPOSITORY, PR, body)
    await deliver(
        service, "issue_comment", comment_event("created", on_issue, body, on_pull_request=False)
    )
    chat = fake_github.add_comment(REPOSITORY, PR, "LGTM, /heatmeter rate 4 later")
    await deliver(service, "issue_comment", comment_event("created", chat, chat["body"]))

    assert await db.fetchval("SELECT count(*) FROM happiness") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_malformed_command_gets_one_reply_showing_the_syntax(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    comment = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 7 <img src=x>")
    await deliver(service, "issue_comment", comment_event("created", comment, comment["body"]))
    assert await response(db, comment["id"]) is None
    await fed_back(db)
    [reply] = [c for c in fake_github.comments(REPOSITORY, PR) if c["id"] != comment["id"]]
    assert "the score must be a whole number from 1 to 5" in reply["body"]
    assert "`/heatmeter rate N [task] [words]`" in reply["body"]
    assert "<img" not in reply["body"]  # heatmeter's words only
    assert len(reply["body"]) < 400

    # Edited and still wrong, then redelivered: still one reply.
    again = comment_event("edited", comment, "/heatmeter rate 9", updated_at=later(2))
    await deliver(service, "issue_comment", again)
    await deliver(service, "issue_comment", again)
    await fed_back(db)
    assert len(fake_github.writes) == 1

    # Fixed: stored and acknowledged; the reply stays the only one.
    fixed = comment_event("edited", comment, "/heatmeter rate 3", updated_at=later(3))
    await deliver(service, "issue_comment", fixed)
    assert (await response(db, comment["id"]))["score"] == 3
    await fed_back(db)
    assert [r["content"] for r in fake_github.reactions(comment["id"])] == ["+1"]
    assert len(fake_github.writes) == 1
    # Our own reply is a comment too: its webhook is no rating, and needs no answer.
    await deliver(
        service, "issue_comment", comment_event("created", reply, reply["body"], user=BOT_USER)
    )
    assert await db.fetchval("SELECT count(*) FROM happiness") == 1


async def test_a_github_outage_delays_the_reaction_and_never_drops_it(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    comment = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 5")
    fake_github.fail("POST", "/repos/*/issues/comments/*/reactions", 502, times=3)
    await deliver(service, "issue_comment", comment_event("created", comment, comment["body"]))
    await fed_back(db)
    row = await db.fetchrow("SELECT attempts, last_error FROM outbox WHERE kind = 'reaction'")
    assert row["attempts"] >= 2  # the first write gave up; the outbox tried again later
    assert row["last_error"] is None
    assert [r["content"] for r in fake_github.reactions(comment["id"])] == ["+1"]


async def test_a_reply_whose_answer_was_lost_is_not_posted_twice(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    comment = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate")
    # GitHub makes the reply but the answer is lost, twice: the worker looks before posting.
    fake_github.fail("POST", f"/repos/{REPOSITORY}/issues/{PR}/comments", 502, times=2, after=True)
    await deliver(service, "issue_comment", comment_event("created", comment, comment["body"]))
    await fed_back(db)
    replies = [c for c in fake_github.comments(REPOSITORY, PR) if c["id"] != comment["id"]]
    assert len(replies) == 1


async def test_a_reaction_to_a_comment_deleted_meanwhile_is_dropped(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    comment = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 4")
    fake_github.delete_comment(comment["id"])
    await deliver(service, "issue_comment", comment_event("created", comment, comment["body"]))
    await fed_back(db)
    assert await db.fetchval("SELECT last_error FROM outbox") == "the comment is gone"


async def test_a_deleted_rating_stays_deleted_when_an_older_edit_arrives_late(
    service: TestClient, fake_github: FakeGitHub, db: asyncpg.Connection
) -> None:
    comment = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 4")
    await deliver(service, "issue_comment", comment_event("created", comment, comment["body"]))
    assert (await response(db, comment["id"]))["score"] == 4
    await deliver(service, "issue_comment", comment_event("deleted", comment, comment["body"]))
    # GitHub delivers in no set order: an edit made before the deletion arrives after it.
    late = comment_event("edited", comment, "/heatmeter rate 2", updated_at=later(2))
    status, answer = await deliver(service, "issue_comment", late)
    assert (status, answer["duplicate"]) == (200, False)
    assert await response(db, comment["id"]) is None
    await db.execute("SELECT heat_refresh_rollups()")
    assert await db.fetchval("SELECT count(*) FROM heat_happiness_by_task") == 0

    # The deletion delivered before the comment's creation: nothing stored, nothing owed.
    other = fake_github.add_comment(REPOSITORY, PR, "/heatmeter rate 5")
    await deliver(service, "issue_comment", comment_event("deleted", other, other["body"]))
    await deliver(service, "issue_comment", comment_event("created", other, other["body"]))
    assert await response(db, other["id"]) is None
    owed = "SELECT count(*) FROM outbox WHERE key = jsonb_build_object('comment_id', $1::bigint)"
    assert await db.fetchval(owed, other["id"]) == 0
