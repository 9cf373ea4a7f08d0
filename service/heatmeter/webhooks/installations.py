"""Remembers where the App is installed: the repositories adoption is measured against."""

from __future__ import annotations

from typing import Any

import asyncpg
from gidgethub import routing, sansio

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

# An uninstalled App comes back as a new installation id, so deleted_at, once set, stays:
# an event about the old installation delivered late must not bring it back.
UPSERT_INSTALLATION = """
INSERT INTO installations (installation_id, account, suspended_at, deleted_at)
VALUES ($1, $2, $3, NULL)
ON CONFLICT (installation_id) DO UPDATE SET
    account = EXCLUDED.account, suspended_at = EXCLUDED.suspended_at, updated_at = now()
"""
MARK_DELETED = """
UPDATE installations SET deleted_at = now(), updated_at = now() WHERE installation_id = $1
"""
FORGET_ALL_REPOSITORIES = "DELETE FROM installation_repositories WHERE installation_id = $1"
ADD_REPOSITORY = """
INSERT INTO installation_repositories (installation_id, repository, repository_id)
VALUES ($1, $2, $3)
ON CONFLICT (installation_id, repository) DO UPDATE SET repository_id = EXCLUDED.repository_id
"""
# By id, or by name in any case: the name may have changed since the repository was added.
REMOVE_REPOSITORY = """
DELETE FROM installation_repositories
WHERE installation_id = $1 AND (repository_id = $3 OR lower(repository) = lower($2))
"""


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
    await db.execute(
        UPSERT_INSTALLATION,
        installation["id"],
        installation["account"]["login"],
        github_time(installation.get("suspended_at")),
    )
    return installation["id"]


async def _add(db: asyncpg.Connection, installation_id: int, repos: list[dict]) -> None:
    await db.executemany(
        ADD_REPOSITORY, [(installation_id, repo["full_name"], repo.get("id")) for repo in repos]
    )


@router.register("installation", action="created")
@router.register("installation", action="new_permissions_accepted")
@reads(INSTALLATION_FIELDS)
async def installed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    installation_id = await _remember(db, event.data["installation"])
    await _add(db, installation_id, event.data.get("repositories") or [])


@router.register("installation", action="suspend")
@router.register("installation", action="unsuspend")
@reads(INSTALLATION_FIELDS)
async def suspension_changed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    await _remember(db, event.data["installation"])


@router.register("installation", action="deleted")
@reads(INSTALLATION_FIELDS)
async def uninstalled(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    installation_id = event.data["installation"]["id"]
    await _remember(db, event.data["installation"])
    await db.execute(MARK_DELETED, installation_id)
    await db.execute(FORGET_ALL_REPOSITORIES, installation_id)


@router.register("installation_repositories", action="added")
@router.register("installation_repositories", action="removed")
@reads(REPOSITORIES_FIELDS)
async def repositories_changed(event: sansio.Event, *, db: asyncpg.Connection, **_: Any) -> None:
    installation_id = await _remember(db, event.data["installation"])
    await _add(db, installation_id, event.data.get("repositories_added") or [])
    await db.executemany(
        REMOVE_REPOSITORY,
        [
            (installation_id, repo["full_name"], repo.get("id"))
            for repo in event.data.get("repositories_removed") or []
        ],
    )
