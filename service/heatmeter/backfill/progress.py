"""What a backfill tells the person watching it: counts as it goes, and the total."""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TextIO


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


class LineProgress:
    """A line on ``stream`` (stderr) per repository and every ``every`` runs."""

    def __init__(self, stream: TextIO | None = None, *, every: int = 50) -> None:
        self._stream = stream or sys.stderr
        self._every = every

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
