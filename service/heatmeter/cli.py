"""The `heatmeter` command: serve, migrate, report, demo, rollup, tasks, backfill.

A little over 300 lines because it is the one place every command's flags and help are
declared; what each command does lives in its own package (scorecard, demo, tasks,
backfill), and `tasks` and `backfill` already declare their own parsers there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

import structlog

from . import clock
from .backfill import command as backfill_command
from .db.connections import DatabaseUnreachable, connect
from .db.embedded import EmbeddedPostgresError, database, database_and_server
from .demo.history import DEMO_ORG as DEMO_ORG_NAME
from .demo.store import Written
from .logs import configure_logging
from .scorecard.filters import KINDS, Filters
from .settings import Settings, SettingsError
from .tasks import commands as tasks_commands

log = structlog.get_logger("heatmeter")


async def _migrate(dsn: str) -> list[str]:
    from .db.migrations import migrate

    conn = await connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as settings:
        applied = asyncio.run(_migrate(settings.database_url))
    log.info("migrations up to date", applied=applied)
    return 0


async def _rollup(dsn: str, rebuild: bool) -> int | None:
    from .rollups import refresh_rollups

    conn = await connect(dsn)
    try:
        return await refresh_rollups(conn, rebuild=rebuild)
    finally:
        await conn.close()


def cmd_rollup(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as settings:
        asyncio.run(_migrate(settings.database_url))
        cells = asyncio.run(_rollup(settings.database_url, args.rebuild))
    if cells is None:
        log.info("another process is refreshing the roll-ups right now; nothing done")
    else:
        log.info("roll-ups up to date", cells_recomputed=cells, rebuilt=args.rebuild)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from .app import create_app
    from .http.server import serve

    with database_and_server(settings) as (settings, embedded):
        if not args.no_migrate:
            asyncio.run(_migrate(settings.database_url))
        host = args.host or settings.host
        port = args.port or settings.port
        log.info("serving", url=f"http://{host}:{port}")
        try:
            # SIGINT/SIGTERM stop gracefully: the listener closes, requests in flight get
            # shutdown_timeout seconds to finish, then cleanup_ctx runs.
            serve(
                create_app(settings, embedded=embedded),
                host=host,
                port=port,
                shutdown_timeout=10,
                loop_factory=event_loop,
                access_log=None,
            )
        except OSError as exc:
            # Binding the port is the one OSError left once the database answered.
            log.error("cannot listen", host=host, port=port, error=str(exc))
            return 1
    return 0


async def _report(dsn: str, filters: Filters, fmt: str) -> None:
    from .scorecard import queries, terminal

    await _migrate(dsn)
    conn = await connect(dsn)
    try:
        board = await queries.scorecard(conn, filters)
    finally:
        await conn.close()
    writer = {"table": terminal.write_table, "json": terminal.write_json, "csv": terminal.write_csv}
    writer[fmt](board, sys.stdout)


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:

    from .scorecard.filters import FilterError, parse_filters

    params = {
        name: value
        for name, value in (
            ("repository", args.repo), ("task", args.task), ("kind", args.kind),
            ("since", args.since), ("until", args.until),
        )
        if value
    }  # fmt: skip
    try:
        filters = parse_filters(params, clock.now(), allowed=frozenset(params))
    except FilterError as exc:
        flag = {"repository": "--repo"}.get(exc.parameter, f"--{exc.parameter}")
        print(f"heatmeter report: {flag}: {exc.message}", file=sys.stderr)
        return 2
    # Only warnings and errors: the report itself is what the terminal is for.
    configure_logging(settings.log_format, logging.WARNING)
    with database(settings) as settings:
        try:
            asyncio.run(_report(settings.database_url, filters, args.format))
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped (`| head`): not an error. Point stdout at /dev/null so
            # Python's own flush at exit does not complain again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


async def _demo(dsn: str, force: bool) -> Written:

    from .demo.history import generate
    from .demo.store import write_demo

    await _migrate(dsn)
    conn = await connect(dsn)
    try:
        return await write_demo(conn, generate(clock.now()), force=force)
    finally:
        await conn.close()


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo.store import RealDataPresent

    with database(settings) as db_settings:
        try:
            written = asyncio.run(_demo(db_settings.database_url, args.force))
        except RealDataPresent as exc:
            print(
                f"heatmeter demo: {exc}; not writing demo data next to it. "
                "Use --force to add it anyway (labelled, and replaced on the next run).",
                file=sys.stderr,
            )
            return 1
    replaced = (
        f", replacing {written.replaced_runs} earlier demo runs" if written.replaced_runs else ""
    )
    print(
        f"Wrote a synthetic history: {written.runs} task runs in {written.repositories} "
        f"repositories under {DEMO_ORG_NAME}/, {written.ratings} happiness ratings{replaced}.\n"
        f"Open http://{settings.host}:{settings.port}/ while `make run` (heatmeter serve) runs, "
        "or try `heatmeter report`."
    )
    return 0


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): its sockets and scheduling cost a
    fraction of asyncio's, which is most of what serving a report costs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heatmeter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service (migrates first)")
    serve.add_argument("--host", help="listen address (default HEATMETER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default HEATMETER_PORT or 8080)")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations")
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply pending SQL migrations and exit")
    migrate.set_defaults(func=cmd_migrate)

    report = commands.add_parser(
        "report",
        help="print the HEAT scorecard of every task (the same figures as the page)",
        description="The scorecard of every task for a window (default: the last 28 days) "
        "against the window of the same length before it. Uses the same database as "
        "`heatmeter serve`: DATABASE_URL, else the embedded one in HEATMETER_DATA_DIR.",
    )
    report.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table for people (default), json or csv for machines",
    )
    report.add_argument("--repo", metavar="OWNER/NAME", help="only this repository")
    report.add_argument("--task", help="only this task")
    report.add_argument("--kind", choices=KINDS, help="only tasks of this kind")
    report.add_argument(
        "--since",
        metavar="WHEN",
        help="window start: an ISO date (2026-11-01) or a duration back "
        "from now (28d, 4w); default 28d",
    )
    report.add_argument("--until", metavar="WHEN", help="window end, the same forms; default now")
    report.set_defaults(func=cmd_report)

    demo = commands.add_parser(
        "demo",
        help="fill the database with a labelled synthetic history to look around",
        description=f"Writes eight weeks of synthetic task runs, installations and happiness "
        f"ratings for repositories under {DEMO_ORG_NAME}/ into the same database as "
        "`heatmeter serve`. Running it again replaces the earlier demo rows. It refuses to "
        "write into a database that holds real data unless --force is given.",
    )
    demo.add_argument(
        "--force",
        action="store_true",
        help="write the demo even next to real data (demo rows stay labelled)",
    )
    demo.set_defaults(func=cmd_demo)

    rollup = commands.add_parser(
        "rollup", help="bring the scorecard's daily roll-ups up to date now and exit"
    )
    rollup.add_argument("--rebuild", action="store_true", help="recompute every day from task_runs")
    rollup.set_defaults(func=cmd_rollup)

    tasks_commands.add_parser(commands)
    backfill_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"heatmeter: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    try:
        return args.func(settings, args)
    except SettingsError as exc:
        # Some settings are only checked when used (the App's private key, at start-up).
        print(f"heatmeter: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnreachable as exc:
        log.error("cannot reach the database", error=str(exc))
        return 1
    except EmbeddedPostgresError as exc:
        log.error(str(exc), hint="set DATABASE_URL, or HEATMETER_DATA_DIR to a usable folder")
        return 1


if __name__ == "__main__":
    sys.exit(main())
