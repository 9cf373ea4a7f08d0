"""Where the App is installed: the repositories adoption is measured against, in Postgres.

Kept current by the installation webhooks as they come (webhooks/installations.py),
and set right from GitHub's own listing at start-up and hourly (outbox/installations.py),
which also covers whatever happened before the service first started or while it was down.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

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

# What GitHub's listing no longer shows, and did not arrive after the listing began (a
# webhook may have added it meanwhile): gone while nobody was told.
UNLISTED_INSTALLATIONS = """
SELECT installation_id FROM installations
WHERE deleted_at IS NULL AND updated_at < $2 AND NOT (installation_id = ANY($1::bigint[]))
"""
REMOVE_UNLISTED_REPOSITORIES = """
DELETE FROM installation_repositories
WHERE installation_id = $1 AND added_at < $3 AND NOT (lower(repository) = ANY($2::text[]))
"""

Repository = tuple[str, int | None]  # full name, and GitHub's id when known


async def remember_installation(
    conn: asyncpg.Connection, installation_id: int, account: str, suspended_at: datetime | None
) -> None:
    await conn.execute(UPSERT_INSTALLATION, installation_id, account, suspended_at)


async def add_repositories(
    conn: asyncpg.Connection, installation_id: int, repositories: Iterable[Repository]
) -> None:
    await conn.executemany(
        ADD_REPOSITORY, [(installation_id, name, repo_id) for name, repo_id in repositories]
    )


async def remove_repositories(
    conn: asyncpg.Connection, installation_id: int, repositories: Iterable[Repository]
) -> None:
    await conn.executemany(
        REMOVE_REPOSITORY, [(installation_id, name, repo_id) for name, repo_id in repositories]
    )


async def forget_installation(conn: asyncpg.Connection, installation_id: int) -> None:
    """Uninstalled: marked deleted for good, and its repositories no longer count."""
    await conn.execute(MARK_DELETED, installation_id)
    await conn.execute(FORGET_ALL_REPOSITORIES, installation_id)


async def keep_only(
    conn: asyncpg.Connection,
    installation_id: int,
    repositories: Iterable[Repository],
    *,
    listed_since: datetime,
) -> None:
    """The installation covers these repositories and no others (those added after
    ``listed_since``, when GitHub was asked, aside)."""
    repositories = list(repositories)
    await add_repositories(conn, installation_id, repositories)
    names = [name.lower() for name, _ in repositories]
    await conn.execute(REMOVE_UNLISTED_REPOSITORIES, installation_id, names, listed_since)


async def forget_unlisted(
    conn: asyncpg.Connection, listed: Iterable[int], *, listed_since: datetime
) -> list[int]:
    """Forget the installations GitHub no longer lists; their ids."""
    gone = [
        row["installation_id"]
        for row in await conn.fetch(UNLISTED_INSTALLATIONS, list(listed), listed_since)
    ]
    for installation_id in gone:
        await forget_installation(conn, installation_id)
    return gone
