"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import structlog
from aiohttp import web

from . import prometheus
from .appkeys import (
    github_key,
    http_key,
    metrics_key,
    oidc_key,
    pool_key,
    read_only_key,
    report_writer_key,
    settings_key,
    unverified_bodies_key,
)
from .db.connections import ReadOnlySessions, create_pool
from .db.supervisor import Supervised, supervise
from .db.upkeep import keep_history, upkeep
from .github import USER_AGENT
from .github.client import GitHubClient
from .github.credentials import AppAuth, auth_from_settings
from .github.deliveries import DeliverySweeper
from .http import health, openapi
from .http.middleware import request_context
from .outbox import installations
from .outbox.kind import Context, has_github_app
from .outbox.registry import KINDS
from .outbox.worker import OutboxWorker, lease_for
from .reports import routes as reports
from .reports.trust import OidcVerifier
from .reports.writer import ReportWriter
from .rollups import RollupRefresher
from .scorecard import routes as scorecard
from .settings import Settings
from .webhooks import retention
from .webhooks import routes as webhooks
from .webhooks.unverified import UnverifiedBodies

log = structlog.get_logger(__name__)

# GitHub caps webhook payloads at 25 MB; report bodies have their own, smaller limit.
MAX_REQUEST_BYTES = 25 * 1024 * 1024
# The first delivery sweep waits this long (or the interval, if shorter) after start-up:
# redeliveries come to this service, which must be listening by then.
FIRST_SWEEP_AFTER_S = 10.0
# Creating this month's partitions may hold start-up this long at most.
STARTUP_UPKEEP_S = 10.0


def create_app(settings: Settings, *, embedded: Supervised | None = None) -> web.Application:
    """Assemble the service. ``settings.database_url`` must name a reachable Postgres;
    when it is an ``embedded`` one, the service keeps it running."""
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (the CLI starts an embedded one)")
    app = web.Application(middlewares=[request_context], client_max_size=MAX_REQUEST_BYTES)
    app[settings_key] = settings
    metrics = app[metrics_key] = prometheus.ServiceMetrics()
    app[unverified_bodies_key] = UnverifiedBodies(
        settings.webhook_unverified_bodies, metrics.webhook_bodies_unverified
    )
    if embedded is not None:
        app.cleanup_ctx.append(_supervisor(embedded))
    app.cleanup_ctx.append(_database_pool)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_outbox_workers)
    app.cleanup_ctx.append(_webhook_upkeep)
    app.cleanup_ctx.append(_rollup_refresher)
    app.cleanup_ctx.append(_history_upkeep)
    app.add_routes(health.routes)
    app.add_routes(prometheus.routes)
    app.add_routes(openapi.routes)
    app.add_routes(reports.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(scorecard.routes)
    return app


def _supervisor(embedded: Supervised) -> Callable[[web.Application], AsyncIterator[None]]:
    async def supervising(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(supervise(embedded), name="embedded-postgres-supervisor")
        yield
        await _stop(task)

    return supervising


async def _database_pool(app: web.Application) -> AsyncIterator[None]:
    # min_size=0: the service starts, and says so on /readyz, while Postgres is still away.
    read_only = app[read_only_key] = ReadOnlySessions()
    pool = await create_pool(
        app[settings_key].database_url,
        read_only=read_only,
        min_size=0,
        max_size=10,
        command_timeout=10,
    )
    app[pool_key] = pool
    writer = app[report_writer_key] = ReportWriter(pool)
    writer.start()
    yield
    await writer.stop()
    await pool.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    session = aiohttp.ClientSession(
        headers={"User-Agent": USER_AGENT},
        timeout=aiohttp.ClientTimeout(total=30),
    )
    app[http_key] = session
    app[oidc_key] = OidcVerifier(session, settings.oidc_issuer, settings.oidc_audience)
    if settings.report_secret is None:
        log.info("HEATMETER_REPORT_SECRET is not set: only OIDC-authenticated reports accepted")
    yield
    await session.close()


async def _outbox_workers(app: web.Application) -> AsyncIterator[None]:
    """The GitHub client, and a worker for each kind of outbox item it can perform."""
    settings = app[settings_key]
    session = app[http_key]
    auth = auth_from_settings(settings, session)
    github = None
    if auth is None:
        log.warning(
            "comments are off: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN; "
            "reports are still stored and their comment requests wait in the outbox"
        )
    else:
        github = GitHubClient(
            session, auth, api_url=settings.github_api_url, budget_s=settings.github_retry_budget_s
        )
        log.info("comments on", github=auth.describe(), debounce_s=settings.comment_debounce_s)
    app[github_key] = github
    context = Context(app[pool_key], settings, github, session)
    metrics = app[metrics_key]
    workers = [
        OutboxWorker(
            kind,
            context,
            lease_s=lease_for(settings.github_retry_budget_s),
            # Idle workers look again as often as comments are debounced, at most each second.
            poll_s=min(1.0, max(settings.comment_debounce_s, 0.05)),
            max_refusals=settings.outbox_max_refusals,
            count=metrics.count_outbox_item,
        )
        for kind in KINDS
        if kind.available(context)
    ]
    tasks = [asyncio.create_task(w.run(), name=f"outbox-{w.kind.name}") for w in workers]
    interval = settings.installation_sync_interval_s
    if interval > 0 and has_github_app(context):
        # Installations made before the service first started are known only to the API.
        syncing = installations.keep_synced(app[pool_key], interval)
        tasks.append(asyncio.create_task(syncing, name="installation-sync"))
    yield
    # An item cut short here keeps its row; its lease runs out and it is performed again.
    await _stop(*tasks)


async def _rollup_refresher(app: web.Application) -> AsyncIterator[None]:
    interval = app[settings_key].rollup_interval_s
    if interval <= 0:
        log.info("roll-up refresh is off (HEATMETER_ROLLUP_INTERVAL=0): run `heatmeter rollup`")
        yield
        return
    task = asyncio.create_task(
        RollupRefresher(app[pool_key], interval_s=interval).run(), name="rollup-refresher"
    )
    yield
    # A refresh cut short rolls back; the next one, here or in another replica, redoes it.
    await _stop(task)


async def _webhook_upkeep(app: web.Application) -> AsyncIterator[None]:
    """Prune old delivery ids; with a GitHub App, sweep for failed deliveries too."""
    settings = app[settings_key]
    pool = app[pool_key]
    tasks = [
        asyncio.create_task(
            retention.keep_pruned(pool, settings.webhook_retention_s), name="webhook-retention"
        )
    ]
    github = app[github_key]
    if settings.delivery_sweep_interval_s <= 0:
        log.info("delivery sweeper off: HEATMETER_DELIVERY_SWEEP_INTERVAL is 0")
    elif github is None or not isinstance(github.auth, AppAuth):
        log.info("delivery sweeper off: listing deliveries needs a GitHub App")
    else:
        sweeper = DeliverySweeper(
            pool,
            github,
            interval_s=settings.delivery_sweep_interval_s,
            lookback_s=settings.delivery_lookback_s,
            first_after_s=min(FIRST_SWEEP_AFTER_S, settings.delivery_sweep_interval_s),
        )
        tasks.append(asyncio.create_task(sweeper.run(), name="delivery-sweeper"))
        log.info(
            "delivery sweeper on",
            interval_s=settings.delivery_sweep_interval_s,
            lookback_s=settings.delivery_lookback_s,
        )
    yield
    await _stop(*tasks)


async def _history_upkeep(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    pool = app[pool_key]
    # Partitions before serving, so this month's is there; bounded, because the service
    # also starts (and says so on /readyz) while Postgres is away. The snapshot, which
    # takes seconds at millions of runs, is kept in the database across restarts and
    # refreshed in the background.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            upkeep(pool, settings.retention_days, refresh=False), STARTUP_UPKEEP_S
        )
    task = asyncio.create_task(
        keep_history(pool, settings.retention_days, settings.views_refresh_s),
        name="history-upkeep",
    )
    yield
    await _stop(task)


async def _stop(*tasks: asyncio.Task) -> None:
    """Cancel background tasks at shutdown and wait until each has stopped."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
