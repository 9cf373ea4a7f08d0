"""The outbox worker: performs one kind's due items, one at a time, under a lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from ..db.connections import DATABASE_DOWN
from ..github.client import GitHubRefused, GitHubUnavailable
from . import queue
from .kind import Context, Gone, Kind, Outage, Refusal
from .queue import Item
from .retries import DEFAULT_MAX_REFUSALS

log = structlog.get_logger(__name__)

DEFAULT_LEASE_S = 120.0
# Counted for each item processed: the kind, and "written", "unchanged" (the kind's
# words), "gone", "failed" (kept for a later try) or "abandoned".
Count = Callable[[str, str], None]


def lease_for(budget_s: float) -> float:
    """How long a claim is kept: one item spends at most the GitHub retry budget waiting,
    plus its requests' own time; twice that and a minute is ample. A killed worker's
    claims are taken over once it runs out."""
    return max(DEFAULT_LEASE_S, 2 * budget_s + 60)


class OutboxWorker:
    """Claims one kind's due items and performs them, one at a time.

    One at a time on purpose: GitHub asks integrations to serialise writes to avoid its
    secondary rate limits. Each kind has a worker of its own, so a slow kind never holds
    another up, and replicas add parallelism where it is safe.
    """

    def __init__(
        self,
        kind: Kind,
        context: Context,
        *,
        batch: int = 10,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = 1.0,
        max_refusals: int = DEFAULT_MAX_REFUSALS,
        count: Count = lambda kind, result: None,
    ) -> None:
        self.kind = kind
        self._context = context
        self._pool = context.pool
        self._debounce_s = kind.debounce_s(context.settings)
        self._batch = batch
        self._lease_s = lease_s
        # The longest an idle worker sleeps before looking again.
        self._poll_s = poll_s
        self._max_refusals = max_refusals
        self._count = count

    async def run(self) -> None:
        """Work until cancelled; a database outage pauses the worker, it does not stop it."""
        while True:
            try:
                done = await self.run_once()
                if not done:
                    await asyncio.sleep(await self._idle_wait())
            except DATABASE_DOWN as exc:
                log.warning("outbox waiting for the database", kind=self.kind.name, error=repr(exc))
                await asyncio.sleep(5)
            except Exception:
                # Claiming itself failed in an unforeseen way: wait, do not spin.
                log.exception("outbox pass failed; trying again shortly", kind=self.kind.name)
                await asyncio.sleep(5)

    async def run_once(self) -> int:
        """Perform the items due now; return how many were claimed."""
        async with self._pool.acquire() as conn:
            claims = await queue.claim_due(
                conn,
                self.kind.name,
                debounce_s=self._debounce_s,
                limit=self._batch,
                lease_s=self._lease_s,
            )
        for claim in claims:
            async with self._pool.acquire() as conn:
                renewed = await queue.renew(conn, claim, lease_s=self._lease_s)
            if renewed is None:
                log.info(
                    "outbox claim lost before its turn; another worker has it", **_about(claim)
                )
                continue
            await self._process(renewed)
        return len(claims)

    async def _idle_wait(self) -> float:
        async with self._pool.acquire() as conn:
            wait = await queue.seconds_until_next_due(
                conn, self.kind.name, debounce_s=self._debounce_s
            )
        return self._poll_s if wait is None else min(max(wait, 0.02), self._poll_s)

    async def _process(self, item: Item) -> None:
        bound = log.bind(**_about(item))
        done, note = True, None
        try:
            result = await self.kind.perform(item, self._context)
        except DATABASE_DOWN:
            # Nothing can be recorded now; the lease runs out and the item is claimed again.
            raise
        except Gone as exc:
            note, result = str(exc), "gone"
        except (GitHubUnavailable, Outage) as exc:
            # An outage: waited out however long it lasts.
            done, result = False, await self._fail(item, exc, exc.retry_after, refused=False)
        except (GitHubRefused, Refusal) as exc:
            # A refusal (repository gone, App uninstalled) will not mend by itself: retried
            # a bounded number of times, in case a person mends it, then abandoned.
            done, result = False, await self._fail(item, exc, None, refused=True)
        except Exception as exc:
            # A bug must not stop the worker nor lose the item, nor loop forever: it counts
            # as a refusal, kept with its traceback in the log.
            bound.exception("outbox item crashed")
            done, result = False, await self._fail(item, exc, None, refused=True)
        if done:
            async with self._pool.acquire() as conn:
                await queue.complete(conn, item, once=self.kind.once, note=note)
            bound.info("outbox item done", result=result, **({"note": note} if note else {}))
        self._count(self.kind.name, result)

    async def _fail(
        self, item: Item, exc: BaseException, retry_after: float | None, *, refused: bool
    ) -> str:
        """Record the failure; "failed" (kept for a later try) or "abandoned"."""
        error = f"{type(exc).__name__}: {exc}"[:1000]
        async with self._pool.acquire() as conn:
            delay = await queue.fail(
                conn, item, error, retry_after, refused=refused, max_refusals=self._max_refusals
            )
        bound = log.bind(**_about(item), error=error, attempts=item.attempts)
        if delay is None:
            bound.error(
                "outbox item abandoned after repeated refusals; asking for it again retries it",
                refusals=item.refusals + 1,
            )
            return "abandoned"
        bound.warning("outbox item failed; kept for retry", retry_in_s=round(delay, 1))
        return "failed"


def _about(item: Item) -> dict[str, Any]:
    """What a log line says of an item: its kind and key (never its detail, which may
    hold words meant for GitHub only)."""
    return {"kind": item.kind, **item.key}
