"""Work started early on a thread of its own, so that it overlaps the user's command."""

# `threading` costs about 9 ms to import under `python3 -I -S`; its C half `_thread`, loaded
# before any Python code runs, has all a start-and-wait needs.

from __future__ import annotations

import _thread

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing `typing` (~6 ms)
if TYPE_CHECKING:
    from collections.abc import Callable


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
