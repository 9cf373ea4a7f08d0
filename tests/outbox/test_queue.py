"""The outbox table on its own: coalescing, claiming, asking again mid-way, failing, once."""

from __future__ import annotations

import asyncpg

from heatmeter.outbox import queue

PR = {"repository": "octo/app", "pull_request": 7}
COMMENT = {"comment_id": 1234}


async def claim(db: asyncpg.Connection, kind: str = "comment") -> list[queue.Item]:
    return await queue.claim_due(db, kind, debounce_s=0, limit=10, lease_s=60)


async def test_requests_coalesce_into_one_row_and_one_claim(db: asyncpg.Connection) -> None:
    for _ in range(5):
        await queue.request(db, "comment", PR)
    [only] = await claim(db)
    assert (only.kind, only.key, only.requests, only.attempts) == ("comment", PR, 5, 1)
    assert await claim(db) == []  # leased: nobody else gets it
    await queue.complete(db, only)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_asked_again_during_the_work_keeps_the_row_for_another_pass(
    db: asyncpg.Connection, database_url: str
) -> None:
    await queue.request(db, "comment", PR)
    # A report's transaction that began before the claim and asks after it.
    other = await asyncpg.connect(database_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT now()")
        [claimed] = await claim(db)
        await queue.request(other, "comment", PR)
        await transaction.commit()
    finally:
        await other.close()

    await queue.complete(db, claimed)
    row = await db.fetchrow("SELECT locked_until, requests FROM outbox")
    assert row is not None, "the later request was lost"
    assert row["locked_until"] is None
    [again] = await claim(db)
    await queue.complete(db, again)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_failure_is_kept_with_its_error_and_waits(db: asyncpg.Connection) -> None:
    await queue.request(db, "comment", PR)
    [claimed] = await claim(db)
    delay = await queue.fail(db, claimed, "GitHubUnavailable: 502", retry_after=30)
    assert delay == 30
    row = await db.fetchrow("SELECT * FROM outbox_failing")
    assert (row["kind"], row["last_error"], row["attempts"]) == (
        "comment",
        "GitHubUnavailable: 502",
        1,
    )
    # The name documented before the outbox was one still shows the comment kind's rows.
    assert await db.fetchval("SELECT pull_request FROM comment_outbox_failing") == 7
    assert await claim(db) == []  # not before its time
    await db.execute("UPDATE outbox SET not_before = now()")
    [retried] = await claim(db)
    assert retried.attempts == 2


async def test_the_debounce_window_holds_a_fresh_request_back(db: asyncpg.Connection) -> None:
    # One transaction, so now() is one instant: the wait is exactly the window, however
    # long the machine takes between the two statements.
    async with db.transaction():
        await queue.request(db, "comment", PR)
        assert await queue.claim_due(db, "comment", debounce_s=60, limit=10, lease_s=60) == []
        assert await queue.seconds_until_next_due(db, "comment", debounce_s=60) == 60
    # Each kind has its own window: another kind's items are not held back.
    await queue.request(db, "reaction", COMMENT, {"content": "+1"}, once=True)
    assert [item.kind for item in await claim(db, "reaction")] == ["reaction"]


async def test_a_kind_done_once_stays_done_however_often_it_is_asked(
    db: asyncpg.Connection,
) -> None:
    await queue.request(db, "reaction", COMMENT, {"content": "+1"}, once=True)
    [claimed] = await claim(db, "reaction")
    assert claimed.detail == {"content": "+1"}
    await queue.complete(db, claimed, once=True, note="the comment is gone")
    row = await db.fetchrow("SELECT done_at, last_error FROM outbox")
    assert row["done_at"] is not None
    assert row["last_error"] == "the comment is gone"

    await queue.request(db, "reaction", COMMENT, {"content": "+1"}, once=True)
    await queue.withdraw(db, ["reaction"], COMMENT)  # only what is not done yet
    assert await claim(db, "reaction") == []
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE done_at IS NOT NULL") == 1


async def test_an_abandoned_item_asked_again_starts_afresh(db: asyncpg.Connection) -> None:
    await queue.request(db, "reply", COMMENT, {"text": "old"}, once=True)
    [claimed] = await claim(db, "reply")
    assert await queue.fail(db, claimed, "GitHubRefused: 403", refused=True, max_refusals=1) is None
    assert await db.fetchval("SELECT count(*) FROM outbox_abandoned") == 1
    assert await claim(db, "reply") == []

    await queue.request(db, "reply", COMMENT, {"text": "new"}, once=True)
    [again] = await claim(db, "reply")
    assert (again.attempts, again.refusals, again.detail) == (1, 0, {"text": "new"})


async def test_a_waiting_item_is_withdrawn_and_kinds_keep_apart(db: asyncpg.Connection) -> None:
    await queue.request(db, "reaction", COMMENT, {"content": "+1"}, once=True)
    await queue.request(db, "reply", COMMENT, {"text": "syntax"}, once=True)
    await queue.withdraw(db, ["reply"], COMMENT)
    rows = await db.fetch("SELECT kind FROM outbox")
    assert [row["kind"] for row in rows] == ["reaction"]
