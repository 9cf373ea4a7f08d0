"""What heatmeter owes a rating comment (a reaction, or one syntax reply), kept in Postgres.

Rows are written in the webhook's transaction and sent by the feedback worker, never
from inside the webhook request. A sent row stays, marked done: it is the memory that
makes it one reaction and one reply per comment, whatever is edited or redelivered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from .retries import DEFAULT_MAX_REFUSALS, next_try

REACTION = "reaction"
REPLY = "reply"

# Asked again (the comment edited, the delivery redone) changes nothing, except for
# feedback that was abandoned: that starts afresh.
REQUEST = """
INSERT INTO comment_feedback (comment_id, kind, repository, pull_request, detail)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (comment_id, kind) DO UPDATE
SET abandoned_at = NULL, refusals = 0, attempts = 0, not_before = NULL, detail = EXCLUDED.detail
WHERE comment_feedback.abandoned_at IS NOT NULL
"""

# Feedback not sent yet and no longer due (the rating was removed, or the command fixed
# before its reply went out).
WITHDRAW = """
DELETE FROM comment_feedback WHERE comment_id = $1 AND kind = ANY($2::text[]) AND done_at IS NULL
"""

CLAIM_DUE = """
UPDATE comment_feedback AS f
SET locked_until = now() + make_interval(secs => $2), attempts = f.attempts + 1
FROM (
    SELECT comment_id, kind FROM comment_feedback
    WHERE done_at IS NULL AND abandoned_at IS NULL
      AND (not_before IS NULL OR not_before <= now())
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY requested_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
) AS due
WHERE f.comment_id = due.comment_id AND f.kind = due.kind
RETURNING f.comment_id, f.kind, f.repository, f.pull_request, f.detail, f.attempts,
          f.refusals, f.locked_until
"""

# Before its turn in a batch: the lease renewed, only if it is still this claim's.
RENEW = """
UPDATE comment_feedback SET locked_until = now() + make_interval(secs => $4)
WHERE comment_id = $1 AND kind = $2 AND locked_until = $3 AND locked_until > now()
RETURNING locked_until
"""

DONE = """
UPDATE comment_feedback SET done_at = now(), locked_until = NULL, last_error = $3
WHERE comment_id = $1 AND kind = $2
"""

FAIL = """
UPDATE comment_feedback
SET locked_until = NULL, not_before = now() + make_interval(secs => $3), last_error = $4,
    refusals = refusals + $5::int
WHERE comment_id = $1 AND kind = $2
"""

ABANDON = """
UPDATE comment_feedback
SET locked_until = NULL, not_before = NULL, last_error = $3, refusals = refusals + 1,
    abandoned_at = now()
WHERE comment_id = $1 AND kind = $2
"""


@dataclass(frozen=True)
class Feedback:
    comment_id: int
    kind: str
    repository: str
    pull_request: int
    detail: str | None
    attempts: int
    refusals: int  # refusals in a row before this claim
    locked_until: datetime  # the lease's end, which also tells this claim from a later one


async def request_reaction(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int
) -> None:
    """Acknowledge a stored rating; a reply to an earlier malformed version is now moot."""
    await conn.execute(WITHDRAW, comment_id, [REPLY])
    await conn.execute(REQUEST, comment_id, REACTION, repository, pull_request, None)


async def request_reply(
    conn: asyncpg.Connection, repository: str, pull_request: int, comment_id: int, problem: str
) -> None:
    """Show the syntax once for this comment; ``problem`` is heatmeter's own words."""
    await conn.execute(WITHDRAW, comment_id, [REACTION])
    await conn.execute(REQUEST, comment_id, REPLY, repository, pull_request, problem)


async def withdraw(conn: asyncpg.Connection, comment_id: int) -> None:
    """The comment no longer rates anything: drop what was not sent yet."""
    await conn.execute(WITHDRAW, comment_id, [REACTION, REPLY])


async def claim_due(conn: asyncpg.Connection, *, limit: int, lease_s: float) -> list[Feedback]:
    return [Feedback(**row) for row in await conn.fetch(CLAIM_DUE, limit, lease_s)]


async def renew(conn: asyncpg.Connection, item: Feedback, *, lease_s: float) -> Feedback | None:
    """The claim with a fresh lease, or None when it was lost (run out, claimed again)."""
    until = await conn.fetchval(RENEW, item.comment_id, item.kind, item.locked_until, lease_s)
    return None if until is None else replace(item, locked_until=until)


async def done(conn: asyncpg.Connection, feedback: Feedback, note: str | None = None) -> None:
    await conn.execute(DONE, feedback.comment_id, feedback.kind, note)


async def fail(
    conn: asyncpg.Connection,
    feedback: Feedback,
    error: str,
    retry_after: float | None,
    *,
    refused: bool = False,
    max_refusals: int = DEFAULT_MAX_REFUSALS,
) -> float | None:
    """Keep the row for a later attempt and return the delay in seconds; or, refused
    ``max_refusals`` times in a row, abandon it and return None (``retries.next_try``)."""
    decision = next_try(
        attempts=feedback.attempts,
        refusals=feedback.refusals,
        refused=refused,
        retry_after=retry_after,
        max_refusals=max_refusals,
    )
    if decision.abandon:
        await conn.execute(ABANDON, feedback.comment_id, feedback.kind, error[:1000])
        return None
    await conn.execute(
        FAIL, feedback.comment_id, feedback.kind, decision.delay_s, error[:1000], int(refused)
    )
    return decision.delay_s
