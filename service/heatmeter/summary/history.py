"""Pure reading of one task's runs on a PR over time: failing, flaky, fixed or passing.

Runs are grouped by commit (``sha``; a run without one is its own commit, and its
re-runs share it). Only decisive outcomes (success, failure, timed out) count: a
cancelled or skipped run says nothing about whether the task works.

- *flaky* (🔁): a failure followed by a success of the same commit — the code did not
  change, the outcome did;
- *fixed*: a failure on an older commit, and the latest commit's latest run succeeded;
- *failing*: the latest run on the latest commit failed;
- *passing*: the latest commit's latest run succeeded and nothing failed before.

The latest commit is the one whose first run started last, so re-running an old
commit's workflow does not make it the latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

FAILING = "failing"
FLAKY = "flaky"
FIXED = "fixed"
PASSING = "passing"
# The latest commit has no decisive run yet (still running, or only cancelled).
PENDING = "pending"

_SUCCESS = "success"
_FAILED = frozenset({"failure", "timed_out"})


class _Run(Protocol):
    """What history needs of a run: its commit and outcome."""

    @property
    def run_id(self) -> int: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def sha(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class History:
    status: str | None  # one of the constants above; None for a task with no runs
    commits: int  # commits the task ran on
    flaky_commits: int  # commits with a failure followed by a success


def commit_key(run: _Run) -> str:
    return run.sha or f"run:{run.run_id}"


def read_history(runs: Sequence[_Run]) -> History:
    """The task's status from its runs, which must be in chronological order."""
    if not runs:
        return History(None, 0, 0)
    outcomes: dict[str, list[str]] = {}
    for run in runs:
        decisive = outcomes.setdefault(commit_key(run), [])
        if run.outcome == _SUCCESS or run.outcome in _FAILED:
            decisive.append(run.outcome)
    flaky = sum(1 for seq in outcomes.values() if _failed_then_passed(seq))
    *older, latest = outcomes.values()  # dicts keep first-appearance order
    if not latest:
        status = PENDING
    elif latest[-1] in _FAILED:
        status = FAILING
    elif flaky:
        status = FLAKY
    elif any(outcome in _FAILED for seq in older for outcome in seq):
        status = FIXED
    else:
        status = PASSING
    return History(status, len(outcomes), flaky)


def _failed_then_passed(outcomes: Sequence[str]) -> bool:
    seen_failure = False
    for outcome in outcomes:
        if outcome in _FAILED:
            seen_failure = True
        elif seen_failure:
            return True
    return False
