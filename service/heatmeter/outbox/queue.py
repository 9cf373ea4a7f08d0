"""The outbox table: items owed to the outside world, one row per (kind, key), leased to workers.

A request puts an item in, or counts itself on the item already there, in the caller's
own transaction: nothing is sent from inside a request. A worker claims due items of one
kind under a lease, performs each, then completes it or records the failure
(``retries.next_try``): an outage waits, a refusal repeated ``max_refusals`` times is
abandoned (kept, visible in ``outbox_abandoned``, no longer tried) until the item is
asked for again. Every statement on the table is here; what an item means is its kind's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from .retries import DEFAULT_MAX_REFUSALS, next_try

# Asking again counts the request; an abandoned item starts afresh (something new is to
# be said, or a person mended what GitHub refused). The SET clause of every request
# (report batches use it too, asking for many PRs' comments in one statement).
ASK_AGAIN = """
    requests = outbox.requests + EXCLUDED.requests,
    detail = EXCLUDED.detail,
    first_requested_at = CASE WHEN outbox.abandoned_at IS NULL
        THEN outbox.first_requested_at ELSE now() END,
    attempts = CASE WHEN outbox.abandoned_at IS NULL THEN outbox.attempts ELSE 0 END,
    refusals = CASE WHEN outbox.abandoned_at IS NULL THEN outbox.refusals ELSE 0 END,
    failing_since = CASE WHEN outbox.abandoned_at IS NULL THEN outbox.failing_since END,
    not_before = CASE WHEN outbox.abandoned_at IS NULL THEN outbox.not_before END,
    abandoned_at = NULL
"""
# A kind performed once per key ($4) is asked again only when it was abandoned: a done
# item stays done, and a waiting one needs nothing more.
REQUEST = f"""
INSERT INTO outbox (kind, key, detail) VALUES ($1, $2::jsonb, $3::jsonb)
ON CONFLICT (kind, key) DO UPDATE SET {ASK_AGAIN}
WHERE outbox.abandoned_at IS NOT NULL OR NOT $4::boolean
"""  # noqa: S608 (built from this module's own constant, no input)

# Items not performed yet and no longer wanted (a rating removed before its 👍 went out).
WITHDRAW = """
DELETE FROM outbox WHERE kind = ANY($1::text[]) AND key = $2::jsonb AND done_at IS NULL
"""

# Items whose debounce window is over, not waiting out a failure and not leased to a
# live worker. SKIP LOCKED lets replicas claim side by side without waiting on each
# other; the lease (not a held lock) keeps the claim while the item is performed, so a
# request never waits on a worker.
CLAIM_DUE = """
UPDATE outbox AS o
SET locked_until = now() + make_interval(secs => $4), attempts = o.attempts + 1
FROM (
    SELECT kind, key FROM outbox
    WHERE kind = $1 AND done_at IS NULL AND abandoned_at IS NULL
      AND first_requested_at <= now() - make_interval(secs => $2)
      AND (not_before IS NULL OR not_before <= now())
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY first_requested_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
) AS due
WHERE o.kind = due.kind AND o.key = due.key
RETURNING o.kind, o.key::text AS key, o.detail::text AS detail, o.requests, o.attempts,
          o.refusals, o.locked_until
"""

# A batch is claimed at once and performed one item at a time: before each, its lease is
# renewed, and only if it is still this claim's (its locked_until is the claim's token).
# An item whose lease ran out meanwhile may be another worker's now: left alone.
RENEW = """
UPDATE outbox SET locked_until = now() + make_interval(secs => $4)
WHERE kind = $1 AND key = $2::jsonb AND locked_until = $3 AND locked_until > now()
RETURNING locked_until
"""

# Done: deleted, or for a kind performed once ($4) kept as done with a note ($5); unless
# it was asked for again meanwhile: then a fresh window starts now.
COMPLETE = """
WITH finished AS (
    DELETE FROM outbox
    WHERE kind = $1 AND key = $2::jsonb AND requests = $3 AND NOT $4::boolean
    RETURNING 1
), kept AS (
    UPDATE outbox
    SET done_at = now(), locked_until = NULL, not_before = NULL, failing_since = NULL,
        last_error = $5
    WHERE kind = $1 AND key = $2::jsonb AND requests = $3 AND $4::boolean
    RETURNING 1
)
UPDATE outbox
SET first_requested_at = now(), locked_until = NULL, not_before = NULL, attempts = 0,
    refusals = 0, failing_since = NULL, last_error = NULL
WHERE kind = $1 AND key = $2::jsonb
  AND NOT EXISTS (SELECT 1 FROM finished UNION ALL SELECT 1 FROM kept)
"""

FAIL = """
UPDATE outbox
SET locked_until = NULL, not_before = now() + make_interval(secs => $3), last_error = $4,
    refusals = refusals + $5::int, failing_since = coalesce(failing_since, now())
WHERE kind = $1 AND key = $2::jsonb
"""

# Given up: kept with its error for a person to see, never claimed again as it is.
ABANDON = """
UPDATE outbox
SET locked_until = NULL, not_before = NULL, last_error = $3, refusals = refusals + 1,
    failing_since = coalesce(failing_since, now()), abandoned_at = now()
WHERE kind = $1 AND key = $2::jsonb
"""

SECONDS_UNTIL_NEXT_DUE = """
SELECT extract(epoch FROM min(greatest(
    first_requested_at + make_interval(secs => $2),
    coalesce(not_before, '-infinity'),
    coalesce(locked_until, '-infinity')
)) - now())::float8
FROM outbox
WHERE kind = $1 AND done_at IS NULL AND abandoned_at IS NULL
"""

Key = Mapping[str, Any]


@dataclass(frozen=True)
class Item:
    """One claimed item, as its kind's ``perform`` receives it."""

    kind: str
    key: dict[str, Any]
    detail: dict[str, Any] | None
    requests: int  # requests the claim covers; more by completion means "again"
    attempts: int  # tries so far, this one included
    refusals: int  # refusals in a row before this claim
    locked_until: datetime  # the lease's end, which also tells this claim from a later one


def encode(value: Key | None) -> str | None:
    """A key or detail as the jsonb parameter asyncpg sends (text)."""
    return None if value is None else json.dumps(value, sort_keys=True)


async def request(
    conn: asyncpg.Connection,
    kind: str,
    key: Key,
    detail: Key | None = None,
    *,
    once: bool = False,
) -> None:
    """Ask for an item; ``once`` for kinds performed once per key (see ``Kind.once``)."""
    await conn.execute(REQUEST, kind, encode(key), encode(detail), once)


async def request_many(
    conn: asyncpg.Connection, kind: str, keys: Iterable[Key], *, once: bool = False
) -> None:
    """Ask for many items of one kind, in the order given: callers give them in one order
    (a comment's by repository and PR, as report batches do), so that concurrent
    writers take the rows' locks alike and never deadlock."""
    rows = [(kind, encode(key), None, once) for key in keys]
    if rows:
        await conn.executemany(REQUEST, rows)


async def withdraw(conn: asyncpg.Connection, kinds: Iterable[str], key: Key) -> None:
    """Drop items of these kinds for ``key`` that were not performed yet."""
    await conn.execute(WITHDRAW, list(kinds), encode(key))


async def claim_due(
    conn: asyncpg.Connection, kind: str, *, debounce_s: float, limit: int, lease_s: float
) -> list[Item]:
    rows = await conn.fetch(CLAIM_DUE, kind, debounce_s, limit, lease_s)
    return [
        Item(
            kind=row["kind"],
            key=json.loads(row["key"]),
            detail=None if row["detail"] is None else json.loads(row["detail"]),
            requests=row["requests"],
            attempts=row["attempts"],
            refusals=row["refusals"],
            locked_until=row["locked_until"],
        )
        for row in rows
    ]


async def renew(conn: asyncpg.Connection, item: Item, *, lease_s: float) -> Item | None:
    """The claim with a fresh lease, or None when it was lost (run out, claimed again)."""
    until = await conn.fetchval(RENEW, item.kind, encode(item.key), item.locked_until, lease_s)
    return None if until is None else replace(item, locked_until=until)


async def complete(
    conn: asyncpg.Connection, item: Item, *, once: bool = False, note: str | None = None
) -> None:
    await conn.execute(COMPLETE, item.kind, encode(item.key), item.requests, once, note)


async def fail(
    conn: asyncpg.Connection,
    item: Item,
    error: str,
    retry_after: float | None = None,
    *,
    refused: bool = False,
    max_refusals: int = DEFAULT_MAX_REFUSALS,
) -> float | None:
    """Record the failure and when to try again; return that delay in seconds, or None
    when the item is abandoned (refused ``max_refusals`` times in a row)."""
    decision = next_try(
        attempts=item.attempts,
        refusals=item.refusals,
        refused=refused,
        retry_after=retry_after,
        max_refusals=max_refusals,
    )
    key = encode(item.key)
    if decision.abandon:
        await conn.execute(ABANDON, item.kind, key, error[:1000])
        return None
    await conn.execute(FAIL, item.kind, key, decision.delay_s, error[:1000], int(refused))
    return decision.delay_s


async def seconds_until_next_due(
    conn: asyncpg.Connection, kind: str, *, debounce_s: float
) -> float | None:
    return await conn.fetchval(SECONDS_UNTIL_NEXT_DUE, kind, debounce_s)
