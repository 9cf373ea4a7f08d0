"""Pure arithmetic behind the pull-request summary: one task's runs against its baseline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .history import History, read_history
from .stats import (
    DEFAULT_MIN_BASELINE_RUNS,
    Baseline,
    Comparison,
    baseline,
    compare,
    percentile,
    rate_with_evidence,
)

SUCCESS = "success"
FAILURE = "failure"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"
SKIPPED = "skipped"
OUTCOMES = (SUCCESS, FAILURE, CANCELLED, TIMED_OUT, SKIPPED)

# The success-rate denominator (DESIGN.md "Metric definitions"): cancelled and skipped
# runs are counted and shown but say nothing about whether the task works.
DECISIVE_OUTCOMES = frozenset({SUCCESS, FAILURE, TIMED_OUT})
FAILED_OUTCOMES = frozenset({FAILURE, TIMED_OUT})
# Durations are compared only for runs that did the task's work to an end: a skipped run
# did none of it and a cancelled one stopped partway, so either would drag p50 down.
# Baseline queries filter the default branch's runs the same way.
TIMED_OUTCOMES = DECISIVE_OUTCOMES

# A PR success rate this far (as a fraction) under the baseline's counts as less reliable.
RELIABILITY_TOLERANCE = 0.05
# How many recent durations a summary keeps for the chart.
RECENT_DURATIONS_LIMIT = 20

__all__ = ["DEFAULT_MIN_BASELINE_RUNS", "percentile"]


@dataclass(frozen=True, slots=True)
class RunSample:
    """One run of a task on this pull request; ``outcome`` None means still running.

    ``duration_ms`` is None when the run has no measured duration: still running, or
    closed by the ``workflow_job`` webhook, whose end is GitHub's clock against the
    runner's start.
    """

    run_id: int
    run_attempt: int
    outcome: str | None
    duration_ms: int | None
    started_at: datetime
    url: str | None
    sha: str | None = None


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """Everything the comment says about one task (on one runner OS) on one pull request."""

    task: str
    kind: str
    runs: int
    success: int
    failure: int
    cancelled: int
    timed_out: int
    skipped: int
    running: int
    success_rate: float | None
    latest_outcome: str | None
    latest_duration_ms: int | None
    latest_url: str | None
    p50_ms: float | None
    p90_ms: float | None
    baseline: Baseline
    comparison: Comparison
    baseline_success_rate: float | None
    attempts_to_first_success: int | None
    # (started at, duration) of the latest measured runs, oldest first, for the chart.
    recent: tuple[tuple[datetime, int], ...]
    history: History
    # Finished runs without a measured duration (closed by the workflow_job webhook).
    unmeasured: int = 0
    runner_os: str | None = None

    @property
    def failed(self) -> int:
        """Runs that ended badly: failures and time-outs."""
        return self.failure + self.timed_out

    @property
    def recent_durations_ms(self) -> tuple[int, ...]:
        return tuple(duration for _, duration in self.recent)

    @property
    def baseline_p50_ms(self) -> float | None:
        return self.baseline.p50_ms

    @property
    def baseline_runs(self) -> int:
        return self.baseline.runs

    @property
    def delta_pct(self) -> float | None:
        """Δ % of p50 against the baseline, only when outside the baseline's noise band."""
        return self.comparison.delta_pct


def success_rate(outcomes: Iterable[str | None]) -> float | None:
    """success / (success + failure + timed_out) as a fraction; None when that is 0 / 0.

    Cancelled, skipped, still-running (None) and unknown outcomes are left out of the
    denominator.
    """
    decisive, successes = _decisive(outcomes)
    return successes / decisive if decisive else None


def attempts_to_first_success(runs: Sequence[RunSample]) -> int | None:
    """1-based count of finished attempts, oldest first, up to and including the first success.

    Re-runs (run_attempt) and runs of later pushes count alike. Still-running and skipped
    runs are not attempts (a skipped task was never tried); cancelled ones are, since
    the developer had to go again. None if nothing succeeded.
    """
    attempts = 0
    for run in chronological(runs):
        if run.outcome is None or run.outcome == SKIPPED:
            continue
        attempts += 1
        if run.outcome == SUCCESS:
            return attempts
    return None


def summarize_task(
    task: str,
    kind: str,
    runs: Sequence[RunSample],
    baseline_durations_ms: Sequence[int],
    baseline_outcomes: Sequence[str] = (),
    *,
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS,
    runner_os: str | None = None,
) -> TaskSummary:
    """Sum up one task's runs on a PR against the default branch's recent history.

    ``baseline_durations_ms`` are the default branch's measured durations over the
    trailing window (runs with an outcome in TIMED_OUTCOMES, same runner OS);
    ``baseline_outcomes`` its outcomes, for the baseline success rate. Neither counts
    below ``min_baseline_runs`` samples. An outcome outside OUTCOMES counts in ``runs``
    only.
    """
    ordered = chronological(runs)
    counts = dict.fromkeys(OUTCOMES, 0)
    running = 0
    for run in ordered:
        if run.outcome is None:
            running += 1
        elif run.outcome in counts:
            counts[run.outcome] += 1
    measured = [
        (run.started_at, run.duration_ms)
        for run in ordered
        if run.outcome in TIMED_OUTCOMES and run.duration_ms is not None
    ]
    timed = [duration for _, duration in measured]
    p50 = percentile(timed, 50)
    base = baseline(baseline_durations_ms, min_runs=min_baseline_runs)
    decisive, successes = _decisive(baseline_outcomes)
    latest = ordered[-1] if ordered else None
    return TaskSummary(
        task=task,
        kind=kind,
        runs=len(ordered),
        success=counts[SUCCESS],
        failure=counts[FAILURE],
        cancelled=counts[CANCELLED],
        timed_out=counts[TIMED_OUT],
        skipped=counts[SKIPPED],
        running=running,
        success_rate=success_rate(run.outcome for run in ordered),
        latest_outcome=latest.outcome if latest else None,
        latest_duration_ms=latest.duration_ms if latest else None,
        latest_url=latest.url if latest else None,
        p50_ms=p50,
        p90_ms=percentile(timed, 90),
        baseline=base,
        comparison=compare(timed, base),
        baseline_success_rate=rate_with_evidence(successes, decisive, min_runs=min_baseline_runs),
        attempts_to_first_success=attempts_to_first_success(ordered),
        recent=tuple(measured[-RECENT_DURATIONS_LIMIT:]),
        history=read_history(ordered),
        unmeasured=sum(1 for run in ordered if run.outcome is not None and run.duration_ms is None),
        runner_os=runner_os,
    )


def delta_pct(value: float | None, baseline: float | None) -> float | None:
    """(value - baseline) / baseline * 100; None without both, or with a zero baseline."""
    if value is None or baseline is None or baseline <= 0:
        return None
    return (value - baseline) / baseline * 100


def is_less_reliable(summary: TaskSummary) -> bool:
    """Whether the PR's success rate is clearly under the default branch's."""
    if summary.success_rate is None or summary.baseline_success_rate is None:
        return False
    return summary.success_rate < summary.baseline_success_rate - RELIABILITY_TOLERANCE


def chronological(runs: Iterable[RunSample]) -> list[RunSample]:
    return sorted(runs, key=lambda run: (run.started_at, run.run_id, run.run_attempt))


def _decisive(outcomes: Iterable[str | None]) -> tuple[int, int]:
    decisive = successes = 0
    for outcome in outcomes:
        if outcome in DECISIVE_OUTCOMES:
            decisive += 1
            successes += outcome == SUCCESS
    return decisive, successes
