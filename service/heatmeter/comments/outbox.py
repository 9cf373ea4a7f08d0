"""The comment outbox: requests coalesce per PR, claims are leased, failures wait and stay.

A write that fails waits as ``retries.next_try`` says; one GitHub keeps refusing is
abandoned (kept, visible in ``comment_outbox_abandoned``, no longer tried) until a new
request for its PR starts it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from .retries import DEFAULT_MAX_REFUSALS, next_try

# A new request opens a debounce window; later ones only count themselves, except on a
# write that was abandoned: there something new is to be said, so it starts afresh.
# The SET clause of every upsert that asks for a comment (report batches use it too).
ASK_AGAIN = """
    requests = comment_outbox.requests + EXCLUDED.requests,
    first_requested_at = CASE WHEN comment_outbox.abandoned_at IS NULL
        THEN comment_outbox.first_requested_at ELSE now() END,
    attempts = CASE WHEN comment_outbox.abandoned_at IS NULL
        THEN comment_outbox.attempts ELSE 0 END,
    refusals = CASE WHEN comment_outbox.abandoned_at IS NULL
        THEN comment_outbox.refusals ELSE 0 END,
    failing_since = CASE WHEN comment_outbox.abandoned_at IS NULL
        THEN comment_outbox.failing_since END,
    not_before = CASE WHEN comment_outbox.abandoned_at IS NULL
        THEN comment_outbox.not_before END,
    abandoned_at = NULL
"""
REQUEST_COMMENT = f"""
INSERT INTO comment_outbox (repository, pull_request) VALUES ($1, $2)
ON CONFLICT (repository, pull_request) DO UPDATE SET {ASK_AGAIN}
"""  # noqa: S608 (built from this module's own constant, no input)

# Rows whose debounce window is over, not waiting out a failure and not leased to a
# live worker. SKIP LOCKED lets replicas claim side by side without waiting on each
# other; the lease (not a held lock) keeps the claim while GitHub is called, so the
# report path never waits on a worker.
CLAIM_DUE = """
UPDATE comment_outbox AS o
SET locked_until = now() + make_interval(secs => $3), attempts = o.attempts + 1
FROM (
    SELECT repository, pull_request FROM comment_outbox
    WHERE first_requested_at <= now() - make_interval(secs => $1)
      AND (not_before IS NULL OR not_before <= now())
      AND (locked_until IS NULL OR locked_until < now())
      AND abandoned_at IS NULL
    ORDER BY first_requested_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) AS due
WHERE o.repository = due.repository AND o.pull_request = due.pull_request
RETURNING o.repository, o.pull_request, o.requests, o.attempts, o.refusals, o.locked_until
"""

# A batch is claimed at once and written one row at a time: before each row, its lease
# is renewed, and only if it is still this claim's (its locked_until is the claim's
# token). A row whose lease ran out meanwhile may be another worker's now: left alone.
RENEW = """
UPDATE comment_outbox
SET locked_until = now() + make_interval(secs => $4)
WHERE repository = $1 AND pull_request = $2 AND locked_until = $3 AND locked_until > now()
RETURNING locked_until
"""

# Done, unless someone asked again meanwhile: then a fresh window starts now.
COMPLETE = """
WITH finished AS (
    DELETE FROM comment_outbox
    WHERE repository = $1 AND pull_request = $2 AND requests = $3
    RETURNING 1
)
UPDATE comment_outbox
SET first_requested_at = now(), locked_until = NULL, not_before = NULL, attempts = 0,
    refusals = 0, failing_since = NULL, last_error = NULL
WHERE repository = $1 AND pull_request = $2 AND NOT EXISTS (SELECT 1 FROM finished)
"""

FAIL = """
UPDATE comment_outbox
SET locked_until = NULL, not_before = now() + make_interval(secs => $3), last_error = $4,
    refusals = refusals + $5::int, failing_since = coalesce(failing_since, now())
WHERE repository = $1 AND pull_request = $2
"""

# Given up: kept with its error for a person to see, never claimed again as it is.
ABANDON = """
UPDATE comment_outbox
SET locked_until = NULL, not_before = NULL, last_error = $3, refusals = refusals + 1,
    failing_since = coalesce(failing_since, now()), abandoned_at = now()
WHERE repository = $1 AND pull_request = $2
"""

SECONDS_UNTIL_NEXT_DUE = """
SELECT extract(epoch FROM min(greatest(
    first_requested_at + make_interval(secs => $1),
    coalesce(not_before, '-infinity'),
    coalesce(locked_until, '-infinity')
)) - now())::float8
FROM comment_outbox
WHERE abandoned_at IS NULL
"""


@dataclass(frozen=True)
class Claim:
    repository: str
    pull_request: int
    requests: int  # how many requests the claim covers; more by completion means "again"
    attempts: int
    refusals: int  # refusals in a row before this claim
    locked_until: datetime  # the lease's end, which also tells this claim from a later one


async def request_comment(conn: asyncpg.Connection, repository: str, pull_request: int) -> None:
    await conn.execute(REQUEST_COMMENT, repository, pull_request)


async def request_comments(conn: asyncpg.Connection, prs: set[tuple[str, int]]) -> None:
    if prs:
        await conn.executemany(REQUEST_COMMENT, sorted(prs))


async def claim_due(
    conn: asyncpg.Connection, *, debounce_s: float, limit: int, lease_s: float
) -> list[Claim]:
    rows = await conn.fetch(CLAIM_DUE, debounce_s, limit, lease_s)
    return [Claim(**row) for row in rows]


async def renew(conn: asyncpg.Connection, claim: Claim, *, lease_s: float) -> Claim | None:
    """The claim with a fresh lease, or None when it was lost (run out, claimed again)."""
    until = await conn.fetchval(
        RENEW, claim.repository, claim.pull_request, claim.locked_until, lease_s
    )
    return None if until is None else replace(claim, locked_until=until)


async def complete(conn: asyncpg.Connection, claim: Claim) -> None:
    await conn.execute(COMPLETE, claim.repository, claim.pull_request, claim.requests)


async def fail(
    conn: asyncpg.Connection,
    claim: Claim,
    error: str,
    retry_after: float | None = None,
    *,
    refused: bool = False,
    max_refusals: int = DEFAULT_MAX_REFUSALS,
) -> float | None:
    """Record the failure and when to try again; return that delay in seconds, or None
    when the write is abandoned (refused ``max_refusals`` times in a row)."""
    decision = next_try(
        attempts=claim.attempts,
        refusals=claim.refusals,
        refused=refused,
        retry_after=retry_after,
        max_refusals=max_refusals,
    )
    if decision.abandon:
        await conn.execute(ABANDON, claim.repository, claim.pull_request, error[:1000])
        return None
    await conn.execute(
        FAIL, claim.repository, claim.pull_request, decision.delay_s, error[:1000], int(refused)
    )
    return decision.delay_s


async def seconds_until_next_due(conn: asyncpg.Connection, *, debounce_s: float) -> float | None:
    return await conn.fetchval(SECONDS_UNTIL_NEXT_DUE, debounce_s)
