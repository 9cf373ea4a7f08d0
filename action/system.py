"""The little the action needs from the operating system: files, environment and threads.

Without `os` or `threading`: `os` costs about 2 ms under `python3 -I -S` (it pulls in stat,
posixpath and _collections_abc), a sixth of the interpreter's own start-up, and `threading`
about 9 ms. Their C halves, `posix` (`nt` on Windows) and `_thread`, are loaded before any
Python code runs and hold everything used here.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

POSIX = "posix" in sys.builtin_module_names
if POSIX:
    import posix as _os
else:  # Windows, where running the command needs `subprocess`, and so `os`, anyway
    import os as _os  # type: ignore[no-redef]

SEP = "/" if POSIX else "\\"

getpid = _os.getpid
urandom = _os.urandom
remove = _os.remove
replace = _os.replace


def _environ() -> dict[str, str]:
    loaded = sys.modules.get("os")
    if loaded is not None:
        # Tests, or a program that imported `os`: its live os.environ is the truth.
        return loaded.environ  # type: ignore[no-any-return]
    if not POSIX:
        return _os.environ  # type: ignore[return-value]
    # posix.environ is the start-up environment as bytes; decode it as os.environ does.
    encoding = sys.getfilesystemencoding()
    return {
        key.decode(encoding, "surrogateescape"): value.decode(encoding, "surrogateescape")
        for key, value in _os.environ.items()
    }


environ = _environ()


def exists(path: str) -> bool:
    try:
        _os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def private_opener(path: str, flags: int) -> int:
    """An `opener` for open() that creates the file for its owner only (read, write, run)."""
    return _os.open(path, flags, 0o700)


def join(folder: str, name: str) -> str:
    return folder + name if folder.endswith(("/", "\\")) else folder + SEP + name


def split(path: str) -> tuple[str, str]:
    """(folder, name), as os.path.split for the plain paths the action handles."""
    cut = max(path.rfind("/"), path.rfind("\\") if not POSIX else -1)
    if cut < 0:
        return "", path
    return path[:cut] or path[:1], path[cut + 1 :]


def basename(path: str) -> str:
    return split(path)[1]


# --- work on a thread of its own, to overlap the command or bound a call ------------------


class Job:
    """Runs a function once on its own thread; `result()` waits for its value (None if it raised).

    Like a daemon thread, a job still running when the action exits is abandoned.
    """

    def __init__(self) -> None:
        self._done = _thread.allocate_lock()
        self._started = False
        self._value: object = None
        self._error: BaseException | None = None

    def start(self, work: Callable[[], object]) -> None:
        if self._started:
            return
        self._started = True
        self._done.acquire()
        try:
            _thread.start_new_thread(self._run, (work,))
        except RuntimeError:  # cannot start a thread: run it now instead
            self._run(work)

    def _run(self, work: Callable[[], object]) -> None:
        try:
            self._value = work()
        except Exception as exc:  # kept for outcome(); result() gives None
            self._error = exc
        finally:
            self._done.release()

    def result(self) -> object:
        """The function's value once it has run; None when it raised or was never started.

        A failure is not kept here: whoever needs the value calls the function again, in the
        open, and sees the error with its reason.
        """
        if self._started:
            with self._done:
                pass
        return self._value

    def outcome(self, timeout: float, what: str) -> object:
        """The value, or the function's own exception, within `timeout` seconds.

        TimeoutError (naming `what`) when it has not finished by then; the thread is left to
        finish on its own, which is what bounds a call that has no timeout of its own.
        """
        if not self._done.acquire(True, max(timeout, 0.0)):
            raise TimeoutError(f"{what} timed out after {timeout:.1f} s")
        self._done.release()
        if self._error is not None:
            raise self._error
        return self._value
