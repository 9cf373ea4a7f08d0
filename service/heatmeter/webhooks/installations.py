"""Remembers where the App is installed: the repositories adoption is measured against."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

from ..installations import (
    add_repositories,
    forget_installation,
    remember_installation,
    remove_repositories,
)
from .payloads import (
    FULL_NAME,
    OPTIONAL_TIMESTAMP,
    github_time,
    identifier,
    obj,
    optional_identifier,
    reads,
    required_text,
)

router = routing.Router()

INSTALLATION = obj(
    ["id", "account"],
    id=identifier(),
    account=obj(["login"], login=required_text(255)),
    suspended_at=OPTIONAL_TIMESTAMP,
)
REPOSITORIES = {
    "type": ["array", "null"],
    "items": obj(["full_name"], full_name=FULL_NAME, id=optional_identifier()),
}
INSTALLATION_FIELDS = obj(["installation"], installation=INSTALLATION, repositories=REPOSITORIES)
REPOSITORIES_FIELDS = obj(
    ["installation"],
    installation=INSTALLATION,
    repositories_added=REPOSITORIES,
    repositories_removed=REPOSITORIES,
)


async def _remember(db: asyncpg.Connection, installation: dict[str, Any]) -> int:
    await remember_installation(
        db,
        installation["id"],
        installation["account"]["login"],
        github_time(installation.get("suspended_at")),
    )
    return installation["id"]


def _repositories(repos: list[dict] | None) -> list[tuple[str, int | None]]:
    return [(repo["full_name"], repo.get("id")) for repo in repos or []]


@router.register("installation", action="created")
@router.register("installation", action="new_permissions_accepted")
@reads(INSTALLATION_FIELDS)
async def installed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    installation_id = await _remember(db, event.data["installation"])
    await add_repositories(db, installation_id, _repositories(event.data.get("repositories")))


@router.register("installation", action="suspend")
@router.register("installation", action="unsuspend")
@reads(INSTALLATION_FIELDS)
async def suspension_changed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    await _remember(db, event.data["installation"])


@router.register("installation", action="deleted")
@reads(INSTALLATION_FIELDS)
async def uninstalled(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    await _remember(db, event.data["installation"])
    await forget_installation(db, event.data["installation"]["id"])


@router.register("installation_repositories", action="added")
@router.register("installation_repositories", action="removed")
@reads(REPOSITORIES_FIELDS)
async def repositories_changed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    installation_id = await _remember(db, event.data["installation"])
    await add_repositories(db, installation_id, _repositories(event.data.get("repositories_added")))
    await remove_repositories(
        db, installation_id, _repositories(event.data.get("repositories_removed"))
    )
