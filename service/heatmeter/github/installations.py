"""Where the App is installed, as GitHub's API lists it: each installation and its repositories.

The webhooks tell heatmeter of installations as they change; what happened before the
service first started, or while it was down, only the API can tell. Both listings are
paginated and go through the one client (its rate-limit policy and retry budget):
``GET /app/installations`` as the App, then ``GET /installation/repositories`` as
each installation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gidgethub.aiohttp

from .client import GitHubClient

PER_PAGE = 100  # GitHub's maximum: the fewest requests
# One listing may take this long, however many pages it has.
LIST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Repository:
    full_name: str
    id: int | None


@dataclass(frozen=True)
class Installation:
    id: int
    account: str
    suspended_at: datetime | None
    # None when it could not be listed: a suspended installation has no token to list with.
    repositories: list[Repository] | None


async def list_installations(client: GitHubClient) -> list[Installation]:
    """Every installation of the App, each with the repositories it covers."""

    async def read(gh: gidgethub.aiohttp.GitHubAPI, jwt: str) -> list[dict[str, Any]]:
        pages = gh.getiter(f"/app/installations?per_page={PER_PAGE}", jwt=jwt)
        async with contextlib.aclosing(pages) as items:
            return [item async for item in items]

    listed = await client.app_operation().run(
        "GET app installations", read, timeout_s=LIST_TIMEOUT_S
    )
    installations = []
    for item in listed:
        suspended_at = _time(item.get("suspended_at"))
        repositories = None if suspended_at else await list_repositories(client, int(item["id"]))
        account = (item.get("account") or {}).get("login") or ""
        installations.append(Installation(int(item["id"]), account, suspended_at, repositories))
    return installations


async def list_repositories(client: GitHubClient, installation_id: int) -> list[Repository]:
    """The repositories one installation covers (all of them, or those selected)."""

    async def read(gh: gidgethub.aiohttp.GitHubAPI, token: str) -> list[Repository]:
        pages = gh.getiter(
            f"/installation/repositories?per_page={PER_PAGE}",
            oauth_token=token,
            iterable_key="repositories",
        )
        async with contextlib.aclosing(pages) as items:
            return [Repository(item["full_name"], item.get("id")) async for item in items]

    return await client.installation_operation(installation_id).run(
        f"GET repositories of installation {installation_id}", read, timeout_s=LIST_TIMEOUT_S
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
