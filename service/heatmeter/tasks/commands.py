"""`heatmeter tasks add|list|remove`: the platform team's task definitions, from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from ..db.connections import connect
from ..db.embedded import database
from ..settings import Settings
from .definitions import KINDS, DefinitionError, TaskDefinition, define_task
from .store import (
    DefinitionExists,
    add_task_definition,
    list_task_definitions,
    remove_task_definition,
)

T = TypeVar("T")
COLUMNS = ("name", "kind", "step", "syntax", "repository", "workflow", "created_at")


def add_parser(commands: argparse._SubParsersAction) -> None:
    tasks = commands.add_parser(
        "tasks", help="define which job steps are which platform task (add, list, remove)"
    )
    actions = tasks.add_subparsers(dest="tasks_action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="measure the job steps whose name matches a pattern as a task",
        description="Measure every job step whose name matches --step as a run of NAME. "
        "Takes effect for jobs that finish from now on, and for `heatmeter backfill`.",
    )
    add.add_argument("name", help="the task's name, as the action's `task` input would be")
    add.add_argument("--kind", choices=KINDS, default="other", help="default: other")
    add.add_argument(
        "--step",
        required=True,
        help="the step name pattern: a glob ('Deploy to *'; case counts), "
        "or with --regex a regular expression the whole name must match",
    )
    add.add_argument("--regex", action="store_true", help="--step is a regular expression")
    add.add_argument("--repo", help="only in repositories matching this glob ('my-org/*')")
    add.add_argument("--workflow", help="only in workflows whose name matches this glob ('CD')")
    add.set_defaults(func=cmd_add)

    show = actions.add_parser("list", help="show the task definitions")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(func=cmd_list)

    remove = actions.add_parser(
        "remove", help="stop matching steps to a task (runs already found stay)"
    )
    remove.add_argument("name")
    remove.set_defaults(func=cmd_remove)


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        definition = define_task(
            args.name,
            kind=args.kind,
            step=args.step,
            regex=args.regex,
            repository=args.repo,
            workflow=args.workflow,
        )
    except DefinitionError as exc:
        # Refused before any database is touched.
        print(f"heatmeter: {exc}", file=sys.stderr)
        return 2
    try:
        stored = _with_database(settings, lambda conn: add_task_definition(conn, definition))
    except DefinitionExists:
        print(
            f"heatmeter: a task named {definition.name!r} is already defined; "
            f"`heatmeter tasks remove {definition.name}` first to change it",
            file=sys.stderr,
        )
        return 1
    print(f"defined {stored.name}: {_describe(stored)}")
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    definitions = _with_database(settings, list_task_definitions)
    rows = [_row(d) for d in definitions]
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not rows:
        print("no task definitions yet: `heatmeter tasks add NAME --step PATTERN` adds one")
    else:
        print(render_table(rows))
    return 0


def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    if not _with_database(settings, lambda conn: remove_task_definition(conn, args.name)):
        print(f"heatmeter: no task named {args.name!r} is defined", file=sys.stderr)
        return 1
    print(f"removed {args.name}; the task runs it found stay")
    return 0


def render_table(rows: list[dict[str, Any]]) -> str:
    """Plain aligned columns; what a terminal and a pager both show as is."""
    cells = [[str(c).upper() for c in COLUMNS]]
    cells += [["" if row[c] is None else str(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _row(definition: TaskDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "kind": definition.kind,
        "step": definition.step_pattern,
        "syntax": definition.pattern_syntax,
        "repository": definition.repository_glob,
        "workflow": definition.workflow_glob,
        "created_at": definition.created_at.isoformat() if definition.created_at else None,
    }


def _describe(definition: TaskDefinition) -> str:
    pattern = f"{definition.step_pattern!r} ({definition.pattern_syntax})"
    what = f"{definition.kind}, steps named {pattern}"
    if definition.repository_glob:
        what += f" in repositories {definition.repository_glob!r}"
    if definition.workflow_glob:
        what += f" of workflows {definition.workflow_glob!r}"
    return what


def _with_database(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``work`` on the database `make run` uses (migrated first), and return its result."""
    from ..db.migrations import migrate

    async def run(dsn: str) -> T:
        conn = await connect(dsn)
        try:
            await migrate(conn)
            return await work(conn)
        finally:
            await conn.close()

    with database(settings) as ready:
        assert ready.database_url is not None
        return asyncio.run(run(ready.database_url))
