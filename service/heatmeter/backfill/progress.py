"""What a backfill tells the person watching it: counts as it goes, and the total.

On a terminal, a progress bar (rich) with the repository being walked and its counts;
elsewhere (a pipe, a CI log), plain lines, one per repository and every few runs.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Progress as RichBar,
)


@dataclass
class Counts:
    repositories: int = 0
    runs: int = 0
    unfinished_runs: int = 0
    jobs: int = 0
    task_runs: int = 0  # new task runs stored from matching steps
    known_task_runs: int = 0  # matching steps already stored (webhook, earlier backfill)
    queue_times: int = 0  # new job queue times stored
    rate_limit_waits: int = 0
    failed_repositories: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Progress(Protocol):
    """Told what the backfill does, as it does it."""

    def targets_found(self, repositories: int) -> None: ...
    def repository_started(self, repository: str, start: datetime, until: datetime) -> None: ...
    def run_done(self, repository: str, counts: Counts) -> None: ...
    def waiting(self, repository: str, seconds: float, until: datetime, reason: str) -> None: ...
    def repository_done(self, repository: str, counts: Counts) -> None: ...
    def repository_failed(self, repository: str, error: str) -> None: ...
    def close(self) -> None: ...


def progress_for(stream: TextIO | None = None) -> Progress:
    """A progress bar when ``stream`` (stderr) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)


class LineProgress:
    """A line on ``stream`` (stderr) per repository and every ``every`` runs."""

    def __init__(self, stream: TextIO | None = None, *, every: int = 50) -> None:
        self._stream = stream or sys.stderr
        self._every = every

    def targets_found(self, repositories: int) -> None:
        self._line(f"backfill: {repositories} repositories to walk")

    def close(self) -> None:
        pass

    def repository_started(self, repository: str, start: datetime, until: datetime) -> None:
        self._line(f"{repository}: walking runs created {_day(start)} to {_day(until)}")

    def run_done(self, repository: str, counts: Counts) -> None:
        if counts.runs % self._every == 0:
            self._line(f"{repository}: {_summary(counts)}")

    def waiting(self, repository: str, seconds: float, until: datetime, reason: str) -> None:
        self._line(f"{repository}: {reason}; waiting {seconds:.0f} s, until {until:%H:%M:%S} UTC")

    def repository_done(self, repository: str, counts: Counts) -> None:
        self._line(f"{repository}: done, {_summary(counts)}")

    def repository_failed(self, repository: str, error: str) -> None:
        self._line(f"{repository}: stopped: {error}")

    def _line(self, text: str) -> None:
        print(text, file=self._stream, flush=True)


class BarProgress:
    """A rich progress bar on a terminal: repositories walked of all, and the one being
    walked with its counts; finished repositories stay above it as lines."""

    def __init__(self, stream: TextIO) -> None:
        self._console = Console(file=stream)
        self._bar = RichBar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._overall: TaskID | None = None
        self._moved: list[logging.StreamHandler] = []

    def targets_found(self, repositories: int) -> None:
        self._bar.start()
        # Log lines go above the bar, not through it: the handlers that write to the
        # terminal write to rich's stand-in for it while the bar is shown.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                handler.setStream(sys.stderr)
                self._moved.append(handler)
        self._overall = self._bar.add_task(
            "repositories", total=repositories, detail=f"{repositories} to walk"
        )

    def repository_started(self, repository: str, start: datetime, until: datetime) -> None:
        self._describe(repository, f"runs created {_day(start)} to {_day(until)}")

    def run_done(self, repository: str, counts: Counts) -> None:
        self._describe(repository, _summary(counts))

    def waiting(self, repository: str, seconds: float, until: datetime, reason: str) -> None:
        self._describe(repository, f"{reason}; waiting until {until:%H:%M:%S} UTC")

    def repository_done(self, repository: str, counts: Counts) -> None:
        self._finished(f"{repository}: done, {_summary(counts)}")

    def repository_failed(self, repository: str, error: str) -> None:
        self._finished(f"{repository}: stopped: {error}")

    def close(self) -> None:
        for handler in self._moved:
            handler.setStream(sys.__stderr__)
        if self._overall is not None:
            self._bar.stop()

    def _describe(self, repository: str, detail: str) -> None:
        if self._overall is not None:
            self._bar.update(self._overall, description=repository, detail=detail)

    def _finished(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False)
        if self._overall is not None:
            self._bar.advance(self._overall)


def final_count(counts: Counts) -> str:
    """The one line a backfill ends with (on stdout)."""
    text = (
        f"backfill: {counts.repositories} repositories, {counts.runs} runs, "
        f"{counts.jobs} jobs walked; stored {counts.task_runs} new task runs "
        f"({counts.known_task_runs} already known) and {counts.queue_times} new queue times"
    )
    if counts.unfinished_runs:
        text += f"; {counts.unfinished_runs} runs still running, left for next time"
    if counts.rate_limit_waits:
        text += f"; waited for GitHub's rate limit {counts.rate_limit_waits} times"
    if counts.failed_repositories:
        text += f"; {counts.failed_repositories} repositories stopped early (see above)"
    return text


def _summary(counts: Counts) -> str:
    return (
        f"{counts.runs} runs, {counts.jobs} jobs, {counts.task_runs} new task runs, "
        f"{counts.queue_times} new queue times"
    )


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"
