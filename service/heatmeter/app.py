"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import structlog
from aiohttp import web

from . import __version__, prometheus
from .appkeys import (
    github_key,
    http_key,
    metrics_key,
    oidc_key,
    pool_key,
    settings_key,
)
from .comments.feedback_worker import FeedbackWorker
from .comments.worker import CommentWorker
from .github import USER_AGENT
from .github.client import GitHubClient
from .github.credentials import auth_from_settings
from .http import health, openapi
from .http.middleware import request_context
from .reports import routes as reports
from .reports.trust import OidcVerifier
from .rollups import RollupRefresher
from .scorecard import routes as scorecard
from .settings import Settings
from .webhooks import routes as webhooks

log = structlog.get_logger(__name__)

# GitHub caps webhook payloads at 25 MB; report bodies have their own, smaller limit.
MAX_REQUEST_BYTES = 25 * 1024 * 1024


def create_app(settings: Settings) -> web.Application:
    """Assemble the service. ``settings.database_url`` must name a reachable Postgres."""
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (the CLI starts an embedded one)")
    app = web.Application(middlewares=[request_context], client_max_size=MAX_REQUEST_BYTES)
    app[settings_key] = settings
    app[metrics_key] = prometheus.ServiceMetrics()
    app.cleanup_ctx.append(_database_pool)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_comment_worker)
    app.cleanup_ctx.append(_rollup_refresher)
    app.add_routes(health.routes)
    app.add_routes(prometheus.routes)
    app.add_routes(openapi.routes)
    app.add_routes(reports.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(scorecard.routes)
    return app


async def _database_pool(app: web.Application) -> AsyncIterator[None]:
    # min_size=0: the service starts, and says so on /readyz, while Postgres is still away.
    pool = await asyncpg.create_pool(
        app[settings_key].database_url,
        min_size=0,
        max_size=10,
        command_timeout=10,
        server_settings={"application_name": f"heatmeter/{__version__}"},
    )
    app[pool_key] = pool
    yield
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


async def _comment_worker(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    session = app[http_key]
    auth = auth_from_settings(settings, session)
    if auth is None:
        app[github_key] = None
        log.warning(
            "comments are off: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN; "
            "reports are still stored and their comment requests wait in the outbox"
        )
        yield
        return
    github = app[github_key] = GitHubClient(
        session,
        auth,
        api_url=settings.github_api_url,
        budget_s=settings.github_retry_budget_s,
    )
    writes = app[metrics_key].comment_writes
    worker = CommentWorker(
        app[pool_key],
        github,
        count=lambda result: writes.labels(result).inc(),
        debounce_s=settings.comment_debounce_s,
        min_baseline_runs=settings.min_baseline_runs,
        public_url=settings.public_url,
    )
    feedback_counts = app[metrics_key].comment_feedback
    feedback_worker = FeedbackWorker(
        app[pool_key],
        github,
        # Reactions and replies are looked for as often as comments are debounced.
        idle_poll_s=min(1.0, max(settings.comment_debounce_s, 0.05)),
        count=lambda kind, result: feedback_counts.labels(kind, result).inc(),
    )
    log.info("comments on", github=auth.describe(), debounce_s=settings.comment_debounce_s)
    tasks = [
        asyncio.create_task(worker.run(), name="comment-worker"),
        asyncio.create_task(feedback_worker.run(), name="feedback-worker"),
    ]
    yield
    # A write cut short here keeps its outbox row; its lease runs out and it is retried.
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


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
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
