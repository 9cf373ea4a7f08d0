"""The comment outbox on its own: coalescing, claiming, asking again mid-write, failing."""

from __future__ import annotations

import asyncpg

from heatmeter.comments import outbox

REPO, PR = "octo/app", 7


async def claim(db: asyncpg.Connection) -> list[outbox.Claim]:
    return await outbox.claim_due(db, debounce_s=0, limit=10, lease_s=60)


async def test_requests_coalesce_into_one_row_and_one_claim(db: asyncpg.Connection) -> None:
    for _ in range(5):
        await outbox.request_comment(db, REPO, PR)
    [only] = await claim(db)
    assert (only.repository, only.pull_request, only.requests) == (REPO, PR, 5)
    assert await claim(db) == []  # leased: nobody else gets it
    await outbox.complete(db, only)
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0


async def test_asked_again_during_the_write_keeps_the_row_for_another_pass(
    db: asyncpg.Connection, database_url: str
) -> None:
    await outbox.request_comment(db, REPO, PR)
    # A report's transaction that began before the claim and asks after it.
    other = await asyncpg.connect(database_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT now()")
        [claimed] = await claim(db)
        await outbox.request_comment(other, REPO, PR)
        await transaction.commit()
    finally:
        await other.close()

    await outbox.complete(db, claimed)
    row = await db.fetchrow("SELECT locked_until, requests FROM comment_outbox")
    assert row is not None, "the later request was lost"
    assert row["locked_until"] is None
    [again] = await claim(db)
    await outbox.complete(db, again)
    assert await db.fetchval("SELECT count(*) FROM comment_outbox") == 0


async def test_a_failure_is_kept_with_its_error_and_waits(db: asyncpg.Connection) -> None:
    await outbox.request_comment(db, REPO, PR)
    [claimed] = await claim(db)
    delay = await outbox.fail(db, claimed, "GitHubUnavailable: 502", retry_after=30)
    assert delay == 30
    row = await db.fetchrow("SELECT * FROM comment_outbox_failing")
    assert (row["last_error"], row["attempts"]) == ("GitHubUnavailable: 502", 1)
    assert await claim(db) == []  # not before its time
    await db.execute("UPDATE comment_outbox SET not_before = now()")
    [retried] = await claim(db)
    assert retried.attempts == 2


async def test_the_debounce_window_holds_a_fresh_request_back(db: asyncpg.Connection) -> None:
    await outbox.request_comment(db, REPO, PR)
    assert await outbox.claim_due(db, debounce_s=60, limit=10, lease_s=60) == []
    wait = await outbox.seconds_until_next_due(db, debounce_s=60)
    assert 55 < wait <= 60
