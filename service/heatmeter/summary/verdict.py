"""The comment's one-line verdict: speed against success, in the service's own words.

The sentence is Markdown written by heatmeter; only the task names in it come from
users, so the caller passes ``name``, which returns each task's name already escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .history import FAILING, FIXED, FLAKY
from .metrics import TaskSummary, is_less_reliable
from .stats import FASTER, ON_PAR, SLOWER

# How many task names one clause of the verdict lists before "and N more".
VERDICT_NAMES_LIMIT = 3
FLAKY_ICON = "🔁"

Name = Callable[[TaskSummary], str]


def verdict(summaries: Sequence[TaskSummary], *, name: Name = lambda s: s.task) -> str:
    """One line weighing speed against success, with ``name(summary)`` for each task.

    Faster but less reliable is a warning, never praise; slower or less reliable is a
    warning; faster (or on par) and at least as reliable is praise. Speed is judged only
    against a baseline with enough runs and outside its noise band. A task whose latest
    run on the latest commit failed is failing; one that failed and then passed on the
    same commit is flaky, not failing; one that failed on an older commit and passes
    now is fixed.
    """
    if not summaries:
        return "No platform tasks have reported on this pull request yet."
    by = _Grouped(summaries)

    def names(group: Sequence[TaskSummary], detail: Callable[[TaskSummary], str]) -> str:
        shown = [f"{name(s)} ({detail(s)})" for s in group[:VERDICT_NAMES_LIMIT]]
        if hidden := len(group) - len(shown):
            shown.append(f"and {hidden} more")
        return ", ".join(shown)

    clauses: list[str] = []
    if by.faster_less_reliable:
        clauses.append(
            "faster but less reliable than the default branch: "
            + names(by.faster_less_reliable, lambda s: f"{_pct(s.delta_pct)}, {_rates(s)}")
        )
    if by.slower:
        clauses.append("slower than the default branch: " + names(by.slower, _delta))
    if by.less_reliable:
        clauses.append("less reliable than the default branch: " + names(by.less_reliable, _rates))
    concerns = bool(clauses)
    if not concerns:
        if by.faster:
            clauses.append(
                "faster and at least as reliable as the default branch: " + names(by.faster, _delta)
            )
        elif by.on_par:
            clauses.append("on par with the default branch (p50 within its usual spread)")
    if by.uncompared:
        needed = names(by.uncompared, lambda s: f"{_count(s.baseline.runs_needed, 'more run')}")
        if len(by.uncompared) == len(summaries):
            clauses.append(f"too few default-branch runs to compare with yet: {needed}")
        else:
            clauses.append(f"not compared yet: {needed}")
    if by.failing:
        clauses.append("failing on this PR: " + names(by.failing, _failing))
    if by.flaky:
        clauses.append(
            f"{FLAKY_ICON} flaky: "
            + names(by.flaky, lambda s: f"failed, then passed on the same commit; {_tries(s)}")
        )
    if by.fixed:
        clauses.append("fixed by a later commit: " + names(by.fixed, _tries))

    if concerns or by.failing:
        icon = "⚠️"
    elif len(by.uncompared) == len(summaries):
        icon = "ℹ️"  # noqa: RUF001 - the information emoji, not a letter
    else:
        icon = "✅"
    line = "; ".join(clauses)
    if not by.failing and not concerns:
        if by.flaky or by.fixed:
            line += f"; {_count(len(summaries), 'task')}, passing on the latest commit"
        else:
            line += f"; {_count(len(summaries), 'task')}, no failures"
        if any(summary.running for summary in summaries):
            line += " so far"
    return f"{icon} {line[0].upper()}{line[1:]}."


class _Grouped:
    """The summaries sorted into the verdict's clauses."""

    def __init__(self, summaries: Sequence[TaskSummary]) -> None:
        self.faster_less_reliable: list[TaskSummary] = []
        self.slower: list[TaskSummary] = []
        self.less_reliable: list[TaskSummary] = []
        self.faster: list[TaskSummary] = []
        self.on_par: list[TaskSummary] = []
        self.uncompared: list[TaskSummary] = []
        for summary in summaries:
            worse = is_less_reliable(summary)
            speed = summary.comparison.verdict
            if speed == FASTER:
                (self.faster_less_reliable if worse else self.faster).append(summary)
                continue
            if speed == SLOWER:
                self.slower.append(summary)
            if worse:
                self.less_reliable.append(summary)
            elif speed == ON_PAR:
                self.on_par.append(summary)
            elif not summary.baseline.usable:
                self.uncompared.append(summary)
        status = {FAILING: [], FLAKY: [], FIXED: []}
        for summary in summaries:
            status.get(summary.history.status, []).append(summary)
        self.failing, self.flaky, self.fixed = status[FAILING], status[FLAKY], status[FIXED]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f} %"


def _delta(summary: TaskSummary) -> str:
    return _pct(summary.delta_pct)


def _rates(summary: TaskSummary) -> str:
    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.0f} %"

    return f"{rate(summary.success_rate)} vs {rate(summary.baseline_success_rate)} success"


def _failing(summary: TaskSummary) -> str:
    return f"the latest run failed; {summary.failed} of {_count(summary.runs, 'run')} failed"


def _tries(summary: TaskSummary) -> str:
    attempts = summary.attempts_to_first_success
    if attempts is None:
        return "no success yet"
    return f"{_count(attempts, 'attempt')} to the first success"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
