"""The comment outbox: requests coalesce per PR, claims are leased, failures wait and stay."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

# A new request opens a debounce window; later ones only count themselves.
REQUEST_COMMENT = """
INSERT INTO comment_outbox (repository, pull_request) VALUES ($1, $2)
ON CONFLICT (repository, pull_request) DO UPDATE SET
    requests = comment_outbox.requests + 1
"""

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
    ORDER BY first_requested_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) AS due
WHERE o.repository = due.repository AND o.pull_request = due.pull_request
RETURNING o.repository, o.pull_request, o.requests, o.attempts
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
    last_error = NULL
WHERE repository = $1 AND pull_request = $2 AND NOT EXISTS (SELECT 1 FROM finished)
"""

FAIL = """
UPDATE comment_outbox
SET locked_until = NULL, not_before = now() + make_interval(secs => $3), last_error = $4
WHERE repository = $1 AND pull_request = $2
"""

SECONDS_UNTIL_NEXT_DUE = """
SELECT extract(epoch FROM min(greatest(
    first_requested_at + make_interval(secs => $1),
    coalesce(not_before, '-infinity'),
    coalesce(locked_until, '-infinity')
)) - now())::float8
FROM comment_outbox
"""

# Exponential backoff for a write that keeps failing, capped so a PR's comment
# catches up within minutes once GitHub is back.
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0


@dataclass(frozen=True)
class Claim:
    repository: str
    pull_request: int
    requests: int  # how many requests the claim covers; more by completion means "again"
    attempts: int


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


async def complete(conn: asyncpg.Connection, claim: Claim) -> None:
    await conn.execute(COMPLETE, claim.repository, claim.pull_request, claim.requests)


async def fail(
    conn: asyncpg.Connection, claim: Claim, error: str, retry_after: float | None = None
) -> float:
    """Record the failure and when to try again; return that delay in seconds."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (claim.attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    await conn.execute(FAIL, claim.repository, claim.pull_request, delay, error[:1000])
    return delay


async def seconds_until_next_due(conn: asyncpg.Connection, *, debounce_s: float) -> float | None:
    return await conn.fetchval(SECONDS_UNTIL_NEXT_DUE, debounce_s)
