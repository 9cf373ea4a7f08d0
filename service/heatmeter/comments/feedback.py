"""What heatmeter owes a rating comment (a reaction, or one syntax reply), kept in Postgres.

Rows are written in the webhook's transaction and sent by the feedback worker, never
from inside the webhook request. A sent row stays, marked done: it is the memory that
makes it one reaction and one reply per comment, whatever is edited or redelivered.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

REACTION = "reaction"
REPLY = "reply"

REQUEST = """
INSERT INTO comment_feedback (comment_id, kind, repository, pull_request, detail)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (comment_id, kind) DO NOTHING
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
    WHERE done_at IS NULL
      AND (not_before IS NULL OR not_before <= now())
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY requested_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
) AS due
WHERE f.comment_id = due.comment_id AND f.kind = due.kind
RETURNING f.comment_id, f.kind, f.repository, f.pull_request, f.detail, f.attempts
"""

DONE = """
UPDATE comment_feedback SET done_at = now(), locked_until = NULL, last_error = $3
WHERE comment_id = $1 AND kind = $2
"""

FAIL = """
UPDATE comment_feedback
SET locked_until = NULL, not_before = now() + make_interval(secs => $3), last_error = $4
WHERE comment_id = $1 AND kind = $2
"""

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0


@dataclass(frozen=True)
class Feedback:
    comment_id: int
    kind: str
    repository: str
    pull_request: int
    detail: str | None
    attempts: int


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


async def done(conn: asyncpg.Connection, feedback: Feedback, note: str | None = None) -> None:
    await conn.execute(DONE, feedback.comment_id, feedback.kind, note)


async def fail(
    conn: asyncpg.Connection, feedback: Feedback, error: str, retry_after: float | None
) -> float:
    """Keep the row for a later attempt; return the delay in seconds."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (feedback.attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    await conn.execute(FAIL, feedback.comment_id, feedback.kind, delay, error[:1000])
    return delay
