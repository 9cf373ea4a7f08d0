"""The delivery sweeper: asks GitHub to send again the App's webhooks that failed to arrive.

GitHub does not retry a failed delivery by itself. Every few minutes one replica (a
lease in ``webhook_delivery_sweeps`` makes them take turns) lists the App's recent
deliveries with its JWT, newest first, back to the last complete sweep (less an
overlap) or at most the look-back; finds each delivery (one ``guid``, the
``X-GitHub-Delivery`` header) none of whose attempts succeeded and that
``webhook_deliveries`` does not know; and asks GitHub to redeliver it. Each failed
attempt is asked about once (``webhook_redeliveries``), each delivery at most
``MAX_REQUESTS_PER_DELIVERY`` times, at most ``MAX_REDELIVERIES_PER_SWEEP`` per sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import gidgethub.aiohttp
import structlog

from ..db.connections import DATABASE_DOWN
from .client import GitHubClient, GitHubRefused, GitHubUnavailable

log = structlog.get_logger(__name__)

LIST_DELIVERIES = "/app/hook/deliveries?per_page=100"
REDELIVER = "/app/hook/deliveries/{delivery_id}/attempts"
# One sweep reads at most this many deliveries (ten pages): after a long outage of a busy
# App, the rest waits for the next sweeps (the sweep is then not complete).
MAX_LISTED = 1000
MAX_REDELIVERIES_PER_SWEEP = 50
MAX_REQUESTS_PER_DELIVERY = 3
# Listed again from the last complete sweep's start less this: GitHub's and our clocks
# differ a little, and an attempt may be listed a moment after it was made.
OVERLAP = timedelta(minutes=10)
# A sweep that has not finished after this long (its replica died) may be taken over.
LEASE_S = 600.0
LIST_TIMEOUT_S = 60.0

# Take the turn if nobody holds it and (unless at start-up) nobody swept lately.
CLAIM_SWEEP = """
INSERT INTO webhook_delivery_sweeps AS s (singleton, started_at, locked_until)
VALUES (true, now(), now() + make_interval(secs => $1))
ON CONFLICT (singleton) DO UPDATE
SET started_at = now(), locked_until = EXCLUDED.locked_until
WHERE (s.locked_until IS NULL OR s.locked_until < now())
  AND ($2 OR s.started_at <= now() - make_interval(secs => $3))
RETURNING s.started_at, s.swept_until
"""

FINISH_SWEEP = """
UPDATE webhook_delivery_sweeps
SET locked_until = NULL, finished_at = now(), redelivered = $1, last_error = $2,
    swept_until = coalesce($3, swept_until)
"""

KNOWN_DELIVERIES = "SELECT delivery_id FROM webhook_deliveries WHERE delivery_id = ANY($1::text[])"

# Returns a row only when this attempt was not asked about yet and the delivery has
# requests left; the row lock makes a concurrent replica wait, then find it done.
CLAIM_REDELIVERY = """
INSERT INTO webhook_redeliveries AS r (guid, attempt_id, event, action)
VALUES ($1, $2, $3, $4)
ON CONFLICT (guid) DO UPDATE
SET attempt_id = EXCLUDED.attempt_id, requests = r.requests + 1, requested_at = now()
WHERE r.attempt_id < EXCLUDED.attempt_id AND r.requests < $5
RETURNING requests
"""


@dataclass(frozen=True)
class HookDelivery:
    """One attempt GitHub made to deliver a webhook, as ``GET /app/hook/deliveries`` lists it."""

    id: int
    guid: str
    delivered_at: datetime
    status_code: int
    event: str
    action: str | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> HookDelivery:
        return cls(
            id=int(item["id"]),
            guid=str(item["guid"]),
            delivered_at=datetime.fromisoformat(str(item["delivered_at"])),
            status_code=int(item.get("status_code") or 0),
            event=str(item.get("event") or "unknown"),
            action=item.get("action"),
        )


@dataclass(frozen=True)
class SweepResult:
    listed: int
    failed: int  # failed deliveries heatmeter does not know
    redelivered: int
    complete: bool  # everything back to the cutoff was looked at


def failed_deliveries(listing: Iterable[HookDelivery]) -> list[HookDelivery]:
    """Per delivery none of whose listed attempts succeeded, its newest attempt; oldest first."""
    newest: dict[str, HookDelivery] = {}
    succeeded: set[str] = set()
    for attempt in listing:
        if attempt.ok:
            succeeded.add(attempt.guid)
        elif attempt.guid not in newest or newest[attempt.guid].id < attempt.id:
            newest[attempt.guid] = attempt
    failed = [d for guid, d in newest.items() if guid not in succeeded]
    return sorted(failed, key=lambda d: (d.delivered_at, d.id))


class DeliverySweeper:
    """Sweeps on a schedule: soon after start-up, then every ``interval_s``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        github: GitHubClient,
        *,
        interval_s: float,
        lookback_s: float,
        first_after_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._github = github
        self._interval_s = interval_s
        self._lookback = timedelta(seconds=lookback_s)
        self._first_after_s = first_after_s

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep is logged and the schedule goes on."""
        await asyncio.sleep(self._first_after_s)
        # The first sweep does not wait for the interval: deliveries that failed while
        # the service was down are asked for as soon as it is back.
        force = True
        while True:
            try:
                await self.sweep(force=force)
                force = False
            except DATABASE_DOWN as exc:
                log.warning("delivery sweep waiting for the database", error=repr(exc))
            except Exception:
                log.exception("delivery sweep failed; trying again at the next interval")
            await asyncio.sleep(self._interval_s)

    async def sweep(self, *, force: bool = False) -> SweepResult | None:
        """One sweep, or None when another replica holds the turn or swept lately."""
        async with self._pool.acquire() as conn:
            # A little under the interval, so a replica whose timer fires early still sweeps.
            turn = await conn.fetchrow(CLAIM_SWEEP, LEASE_S, force, self._interval_s * 0.9)
        if turn is None:
            return None
        started: datetime = turn["started_at"]
        cutoff = started - self._lookback
        if turn["swept_until"] is not None:
            cutoff = max(cutoff, turn["swept_until"] - OVERLAP)
        redelivered, error, result = 0, None, None
        try:
            listing, complete = await self._list(cutoff)
            failed = failed_deliveries(listing)
            async with self._pool.acquire() as conn:
                known = {
                    row["delivery_id"]
                    for row in await conn.fetch(KNOWN_DELIVERIES, [d.guid for d in failed])
                }
            unknown = [d for d in failed if d.guid not in known]
            for delivery in unknown[:MAX_REDELIVERIES_PER_SWEEP]:
                redelivered += await self._redeliver(delivery)
            complete = complete and len(unknown) <= MAX_REDELIVERIES_PER_SWEEP
            result = SweepResult(len(listing), len(unknown), redelivered, complete)
        except (GitHubUnavailable, GitHubRefused) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("delivery sweep stopped by GitHub", error=error, redelivered=redelivered)
        finally:
            # Recorded even when the sweep failed, so that the lease is let go now.
            with contextlib.suppress(*DATABASE_DOWN):
                async with self._pool.acquire() as conn:
                    swept_until = started if result is not None and result.complete else None
                    await conn.execute(FINISH_SWEEP, redelivered, error, swept_until)
        if result is not None:
            log.info(
                "delivery sweep done",
                listed=result.listed,
                failed=result.failed,
                redelivered=result.redelivered,
                complete=result.complete,
                since=cutoff.isoformat(),
            )
        return result

    async def _list(self, cutoff: datetime) -> tuple[list[HookDelivery], bool]:
        """Deliveries made since ``cutoff``, newest first; and whether all were read."""

        async def read(gh: gidgethub.aiohttp.GitHubAPI, jwt: str) -> tuple[list, bool]:
            listing: list[HookDelivery] = []
            pages = gh.getiter(LIST_DELIVERIES, jwt=jwt)
            async with contextlib.aclosing(pages) as items:
                async for item in items:
                    delivery = HookDelivery.from_api(item)
                    if delivery.delivered_at < cutoff:
                        return listing, True
                    if len(listing) >= MAX_LISTED:
                        return listing, False
                    listing.append(delivery)
            return listing, True

        return await self._github.app_operation().run(
            "GET hook deliveries", read, timeout_s=LIST_TIMEOUT_S
        )

    async def _redeliver(self, delivery: HookDelivery) -> bool:
        """Ask GitHub to send ``delivery`` again, unless it was asked about this attempt."""

        async def post(gh: gidgethub.aiohttp.GitHubAPI, jwt: str) -> None:
            await gh.post(REDELIVER, {"delivery_id": delivery.id}, data={}, jwt=jwt)

        bound = log.bind(
            delivery_id=delivery.guid,
            attempt=delivery.id,
            event=delivery.event,
            action=delivery.action,
            status_code=delivery.status_code,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            requests = await conn.fetchval(
                CLAIM_REDELIVERY,
                delivery.guid,
                delivery.id,
                delivery.event,
                delivery.action,
                MAX_REQUESTS_PER_DELIVERY,
            )
            if requests is None:
                return False
            try:
                # GitHubUnavailable rolls the claim back: asked again at the next sweep.
                await self._github.app_operation().run(f"POST redelivery {delivery.id}", post)
            except GitHubRefused as exc:
                # Too old, or gone: asking again would be refused again. Keep the claim.
                bound.warning("webhook redelivery refused by GitHub", error=str(exc))
                return False
        bound.info(
            "webhook redelivery requested",
            requests=requests,
            last=requests >= MAX_REQUESTS_PER_DELIVERY,
        )
        return True
