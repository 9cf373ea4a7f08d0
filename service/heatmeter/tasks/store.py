"""Task definitions in Postgres: add, list, remove. ``list_task_definitions`` is for readers."""

from __future__ import annotations

import asyncpg

from .definitions import TaskDefinition

INSERT_DEFINITION = """
INSERT INTO task_definitions (
    name, kind, step_pattern, pattern_syntax, repository_glob, workflow_glob
) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO NOTHING
RETURNING created_at
"""
SELECT_DEFINITIONS = """
SELECT name, kind, step_pattern, pattern_syntax, repository_glob, workflow_glob, created_at
FROM task_definitions
ORDER BY name
"""
DELETE_DEFINITION = "DELETE FROM task_definitions WHERE name = $1 RETURNING name"


class DefinitionExists(Exception):
    """A task of that name is already defined."""


async def add_task_definition(
    conn: asyncpg.Connection, definition: TaskDefinition
) -> TaskDefinition:
    """Store a new definition; ``DefinitionExists`` if the name is taken."""
    created_at = await conn.fetchval(
        INSERT_DEFINITION,
        definition.name,
        definition.kind,
        definition.step_pattern,
        definition.pattern_syntax,
        definition.repository_glob,
        definition.workflow_glob,
    )
    if created_at is None:
        raise DefinitionExists(definition.name)
    return TaskDefinition(**{**definition.__dict__, "created_at": created_at})


async def list_task_definitions(conn: asyncpg.Connection) -> list[TaskDefinition]:
    """Every task definition, by name: what the matcher, the CLI and the scorecard read."""
    return [TaskDefinition(**row) for row in await conn.fetch(SELECT_DEFINITIONS)]


async def remove_task_definition(conn: asyncpg.Connection, name: str) -> bool:
    """Forget a definition; the task runs it already found stay. False if there was none."""
    return await conn.fetchval(DELETE_DEFINITION, name) is not None
