"""The typed keys of the state shared on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import asyncpg
from aiohttp import web

from .settings import Settings

if TYPE_CHECKING:
    from .db.connections import ReadOnlySessions
    from .github.client import GitHubClient
    from .prometheus import ServiceMetrics
    from .reports.trust import OidcVerifier
    from .reports.writer import ReportWriter
    from .webhooks.unverified import UnverifiedBodies

settings_key = web.AppKey("settings", Settings)
pool_key = web.AppKey("pool", asyncpg.Pool)
# The pool's watch for sessions a failover left read-only; /readyz asks it.
read_only_key: web.AppKey[ReadOnlySessions] = web.AppKey("read_only")
http_key = web.AppKey("http", aiohttp.ClientSession)
oidc_key: web.AppKey[OidcVerifier] = web.AppKey("oidc")
metrics_key: web.AppKey[ServiceMetrics] = web.AppKey("metrics")
report_writer_key: web.AppKey[ReportWriter] = web.AppKey("report_writer")
# None when neither a GitHub App nor a token is configured: reports are stored, no comments.
github_key: web.AppKey[GitHubClient | None] = web.AppKey("github")
unverified_bodies_key: web.AppKey[UnverifiedBodies] = web.AppKey("unverified_bodies")
