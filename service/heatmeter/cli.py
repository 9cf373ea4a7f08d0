"""The `heatmeter` command: serve, migrate (and, later, report and backfill)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace

import asyncpg
import structlog

from .db.embedded import EmbeddedPostgresError
from .logs import configure_logging
from .settings import Settings, SettingsError

log = structlog.get_logger("heatmeter")


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a usable DATABASE_URL: the one given, or an embedded server's."""
    if settings.database_url is not None:
        yield settings
        return
    from .db.embedded import embedded_postgres

    with embedded_postgres(settings.data_dir) as dsn:
        yield replace(settings, database_url=dsn)


class DatabaseUnreachable(Exception):
    """Postgres could not be reached or refused us; the message says how."""


async def _migrate(dsn: str) -> list[str]:
    from .db.migrations import migrate

    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnreachable(str(exc)) from None
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as settings:
        applied = asyncio.run(_migrate(settings.database_url))
    log.info("migrations up to date", applied=applied)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from .app import create_app
    from .http.server import serve

    with database(settings) as settings:
        if not args.no_migrate:
            asyncio.run(_migrate(settings.database_url))
        host = args.host or settings.host
        port = args.port or settings.port
        log.info("serving", url=f"http://{host}:{port}")
        try:
            # SIGINT/SIGTERM stop gracefully: the listener closes, requests in flight get
            # shutdown_timeout seconds to finish, then cleanup_ctx runs.
            serve(create_app(settings), host=host, port=port, shutdown_timeout=10, access_log=None)
        except OSError as exc:
            # Binding the port is the one OSError left once the database answered.
            log.error("cannot listen", host=host, port=port, error=str(exc))
            return 1
    return 0


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
