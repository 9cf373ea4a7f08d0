"""Pure arithmetic behind the pull-request summary: rates, percentiles, baseline delta, verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

SUCCESS = "success"
FAILURE = "failure"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"
SKIPPED = "skipped"
OUTCOMES = (SUCCESS, FAILURE, CANCELLED, TIMED_OUT, SKIPPED)

# The success-rate denominator (DESIGN.md "Metric definitions"): cancelled and skipped
# runs are counted and shown but say nothing about whether the task works.
DECISIVE_OUTCOMES = frozenset({SUCCESS, FAILURE, TIMED_OUT})
# Durations are compared only for runs that did the task's work to an end: a skipped run
# did none of it and a cancelled one stopped partway, so either would drag p50 down.
# Baseline queries should filter the default branch's runs the same way.
TIMED_OUTCOMES = DECISIVE_OUTCOMES

# |delta| up to this many percent counts as "on par": CI timing noise is easily 10 %.
ON_PAR_PCT = 10.0
# A PR success rate this far (as a fraction) under the baseline's counts as less reliable.
RELIABILITY_TOLERANCE = 0.05
# Fewer default-branch durations than this and there is no baseline to compare with.
MIN_BASELINE_RUNS = 1
# How many recent durations a summary keeps for the chart.
RECENT_DURATIONS_LIMIT = 20
# How many task names one clause of the verdict lists before "and N more".
VERDICT_NAMES_LIMIT = 3


@dataclass(frozen=True, slots=True)
class RunSample:
    """One run of a task on this pull request; ``outcome`` None means still running."""

    run_id: int
    run_attempt: int
    outcome: str | None
    duration_ms: int | None
    started_at: datetime
    url: str | None


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """Everything the comment says about one task on one pull request."""

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
    baseline_p50_ms: float | None
    baseline_runs: int
    delta_pct: float | None
    baseline_success_rate: float | None
    attempts_to_first_success: int | None
    recent_durations_ms: tuple[int, ...]

    @property
    def failed(self) -> int:
        """Runs that ended badly: failures and time-outs."""
        return self.failure + self.timed_out


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 100) of values, None when there are none.

    Linear interpolation between closest ranks, as numpy's default and Excel's
    PERCENTILE.INC: sorted values x[0..n-1], rank r = (n - 1) * q / 100, result
    x[floor(r)] + (x[ceil(r)] - x[floor(r)]) * (r - floor(r)). So p50 of [1, 2, 3, 4] is 2.5
    and p0 / p100 are the minimum and maximum.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, not {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def success_rate(outcomes: Iterable[str | None]) -> float | None:
    """success / (success + failure + timed_out) as a fraction; None when that is 0 / 0.

    Cancelled, skipped, still-running (None) and unknown outcomes are left out of the
    denominator.
    """
    decisive = successes = 0
    for outcome in outcomes:
        if outcome in DECISIVE_OUTCOMES:
            decisive += 1
            successes += outcome == SUCCESS
    return successes / decisive if decisive else None


def attempts_to_first_success(runs: Sequence[RunSample]) -> int | None:
    """1-based count of finished attempts, oldest first, up to and including the first success.

    Still-running and skipped runs are not attempts (a skipped task was never tried);
    cancelled ones are, since the developer had to go again. None if nothing succeeded.
    """
    attempts = 0
    for run in _chronological(runs):
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
) -> TaskSummary:
    """Sum up one task's runs on a PR against the default branch's recent history.

    ``baseline_durations_ms`` are the default branch's durations over the trailing window
    (of runs with an outcome in TIMED_OUTCOMES); ``baseline_outcomes`` its outcomes, for
    the baseline success rate. An outcome outside OUTCOMES counts in ``runs`` only.
    """
    ordered = _chronological(runs)
    counts = dict.fromkeys(OUTCOMES, 0)
    running = 0
    for run in ordered:
        if run.outcome is None:
            running += 1
        elif run.outcome in counts:
            counts[run.outcome] += 1
    timed = [
        run.duration_ms
        for run in ordered
        if run.outcome in TIMED_OUTCOMES and run.duration_ms is not None
    ]
    p50 = percentile(timed, 50)
    baseline_p50 = (
        percentile(baseline_durations_ms, 50)
        if len(baseline_durations_ms) >= MIN_BASELINE_RUNS
        else None
    )
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
        baseline_p50_ms=baseline_p50,
        baseline_runs=len(baseline_durations_ms),
        delta_pct=delta_pct(p50, baseline_p50),
        baseline_success_rate=success_rate(baseline_outcomes),
        attempts_to_first_success=attempts_to_first_success(ordered),
        recent_durations_ms=tuple(timed[-RECENT_DURATIONS_LIMIT:]),
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


def verdict(summaries: Sequence[TaskSummary]) -> str:
    """One plain-text line weighing speed against success; escape it before rendering.

    Faster but less reliable is a warning, never praise; slower or less reliable is a
    warning; faster (or on par) and at least as reliable is praise; tasks without a
    baseline are described neutrally; tasks that failed on the PR are always named.
    """
    if not summaries:
        return "No platform tasks have reported on this pull request yet."
    faster_less_reliable: list[TaskSummary] = []
    slower: list[TaskSummary] = []
    less_reliable: list[TaskSummary] = []
    faster: list[TaskSummary] = []
    on_par: list[TaskSummary] = []
    uncompared: list[TaskSummary] = []
    for summary in summaries:
        worse = is_less_reliable(summary)
        delta = summary.delta_pct
        if delta is not None and delta < -ON_PAR_PCT:
            (faster_less_reliable if worse else faster).append(summary)
            continue
        if delta is not None and delta > ON_PAR_PCT:
            slower.append(summary)
        if worse:
            less_reliable.append(summary)
        elif delta is None:
            uncompared.append(summary)
        elif delta <= ON_PAR_PCT:
            on_par.append(summary)
    failing = [summary for summary in summaries if summary.failed]

    clauses: list[str] = []
    if faster_less_reliable:
        clauses.append(
            "faster but less reliable than the default branch: "
            + _names(faster_less_reliable, lambda s: f"{_pct(s.delta_pct)}, {_rates(s)}")
        )
    if slower:
        clauses.append("slower than the default branch: " + _names(slower, _delta))
    if less_reliable:
        clauses.append("less reliable than the default branch: " + _names(less_reliable, _rates))
    concerns = bool(clauses)
    if not concerns:
        if faster:
            clauses.append(
                "faster and at least as reliable as the default branch: " + _names(faster, _delta)
            )
        elif on_par:
            clauses.append(f"on par with the default branch (p50 within ±{ON_PAR_PCT:.0f} %)")
    if uncompared:
        if len(uncompared) == len(summaries):
            clauses.append("no baseline from the default branch yet")
        else:
            clauses.append(f"no baseline yet for {_count(len(uncompared), 'task')}")
    if failing:
        clauses.append(
            "failing on this PR: " + _names(failing, lambda s: f"{s.failed} of {s.runs}")
        )

    if concerns or failing:
        icon = "⚠️"
    elif len(uncompared) == len(summaries):
        icon = "ℹ️"  # noqa: RUF001 - the information emoji, not a letter
    else:
        icon = "✅"
    line = "; ".join(clauses)
    if not failing and not concerns:
        line += f"; {_count(len(summaries), 'task')}, no failures"
        if any(summary.running for summary in summaries):
            line += " so far"
    return f"{icon} {line[0].upper()}{line[1:]}."


def _chronological(runs: Iterable[RunSample]) -> list[RunSample]:
    return sorted(runs, key=lambda run: (run.started_at, run.run_id, run.run_attempt))


def _names(summaries: Sequence[TaskSummary], detail: Callable[[TaskSummary], str]) -> str:
    shown = [f"{s.task} ({detail(s)})" for s in summaries[:VERDICT_NAMES_LIMIT]]
    hidden = len(summaries) - len(shown)
    if hidden:
        shown.append(f"and {hidden} more")
    return ", ".join(shown)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f} %"


def _delta(summary: TaskSummary) -> str:
    return _pct(summary.delta_pct)


def _rates(summary: TaskSummary) -> str:
    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.0f} %"

    return f"{rate(summary.success_rate)} vs {rate(summary.baseline_success_rate)} success"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
