"""Renders task summaries as the sticky pull-request comment, in GitHub-flavoured Markdown."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .charts import mermaid_chart
from .escape import (
    MAX_LABEL_CHARS,
    clean,
    escape_markdown,
    escape_mermaid_label,
    safe_https_url,
    shorten,
)
from .history import FAILING, FIXED, FLAKY
from .metrics import (
    CANCELLED,
    FAILURE,
    SKIPPED,
    SUCCESS,
    TIMED_OUT,
    TaskSummary,
    is_less_reliable,
)
from .stats import FASTER, ON_PAR, SLOWER
from .verdict import FLAKY_ICON, verdict
from .vocabulary import DASH, LEGEND, OUTCOME_ICONS, format_duration

TITLE = "### heatmeter: platform tasks on this pull request"

# GitHub refuses comments over 65,536 characters; stay clear of it with room to spare
# (the sticky comment's marker line comes on top).
MAX_COMMENT_CHARS = 60_000
# Rows shown in the open table; the rest fold into <details> so a busy PR stays short.
OPEN_ROWS = 10
# Rows rendered at all; past this the comment points at the dashboard instead.
MAX_ROWS = 100
# User-supplied names are cut to this many characters before escaping.
MAX_NAME_CHARS = 60
# Charts are drawn for this many of the busiest tasks, each needing a few points.
CHART_TASKS = 3
CHART_MIN_POINTS = 2

# Task names that read the same inside a Markdown code span as outside it.
_PLAIN_TASK = re.compile(r"[A-Za-z0-9._-]{1,40}")

_STATUS_MARKS = {FLAKY: FLAKY_ICON, FIXED: "fixed", FAILING: "failing"}
_COLUMNS = (
    "Task",
    "Kind",
    "Runs",
    "Outcomes",
    "Success rate",
    "Latest",
    "p50 / p90",
    "Baseline p50",
    "Δ p50",
    "Attempts to first success",
    "Latest run",
)
_TABLE_HEAD = "| " + " | ".join(_COLUMNS) + " |\n|" + " --- |" * len(_COLUMNS)


def render_summary(
    summaries: Sequence[TaskSummary],
    *,
    repository: str,
    pull_request: int,
    updated_at: datetime | None,
    dashboard_url: str | None = None,
) -> str:
    """The whole comment: title, verdict, task tables, notes, charts and footer.

    The sticky comment's hidden marker is added by ``outbox.sticky`` when it writes.

    ``updated_at`` is shown in UTC (a naive datetime is taken to be UTC already); None
    leaves the time out, which is what the worker hashes to tell whether the comment
    would change. The result never exceeds MAX_COMMENT_CHARS: charts go first, then
    rows from the end.
    """
    ordered = sorted((_bounded(s) for s in summaries), key=_attention_order)
    name = _namer(ordered)
    # The verdict is heatmeter's own Markdown; only the names in it are user text.
    head = f"{TITLE}\n\n{verdict(ordered, name=name)}"
    footer = _footer(repository, pull_request, updated_at, safe_https_url(dashboard_url))
    invitation = _invitation(ordered)
    rows = [_row(summary, name) for summary in ordered[:MAX_ROWS]]
    charts = _charts(ordered, name)
    notes = _notes(ordered)
    # Drop the charts first, then rows from the end, until the comment fits.
    attempts = [(len(rows), charts)] + [(shown, "") for shown in range(len(rows), -1, -1)]
    for shown, chart_block in attempts:
        hidden = len(ordered) - shown
        parts = [head, _tables(rows[:shown]), _hidden_note(hidden, bool(rows)), notes, chart_block]
        text = "\n\n".join(part for part in (*parts, invitation, footer) if part) + "\n"
        if len(text) <= MAX_COMMENT_CHARS:
            return text
    return f"{TITLE}\n\nThe summary is too large to show here.\n"


def _bounded(summary: TaskSummary) -> TaskSummary:
    # Names are cut before anything renders them, the verdict included, to bound the size.
    runner_os = summary.runner_os and shorten(clean(summary.runner_os), MAX_LABEL_CHARS)
    return dataclasses.replace(
        summary,
        task=shorten(clean(summary.task), MAX_NAME_CHARS) or "(unnamed)",
        kind=shorten(clean(summary.kind), MAX_NAME_CHARS),
        runner_os=runner_os or None,
    )


def _attention_order(summary: TaskSummary) -> tuple[bool, int, str, str, str]:
    needs_attention = (
        summary.history.status == FAILING
        or is_less_reliable(summary)
        or summary.comparison.verdict == SLOWER
    )
    return (not needs_attention, -summary.runs, summary.task, summary.runner_os or "", summary.kind)


def _namer(summaries: Sequence[TaskSummary]) -> Callable[[TaskSummary], str]:
    """Escaped names; a task the PR ran on several OSes is named with each OS."""
    systems: dict[str, set[str | None]] = {}
    for summary in summaries:
        systems.setdefault(summary.task, set()).add(summary.runner_os)

    def name(s: TaskSummary) -> str:
        if s.runner_os and len(systems[s.task]) > 1:
            return f"{escape_markdown(s.task)} ({escape_markdown(s.runner_os)})"
        return escape_markdown(s.task)

    return name


def _percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{fraction * 100:.0f} %"


def _row(s: TaskSummary, name: Callable[[TaskSummary], str]) -> str:
    counts = (
        (s.success, SUCCESS),
        (s.failure, FAILURE),
        (s.timed_out, TIMED_OUT),
        (s.cancelled, CANCELLED),
        (s.skipped, SKIPPED),
        (s.running, None),
    )
    outcomes = " ".join(f"{n} {OUTCOME_ICONS[o]}" for n, o in counts if n) or DASH
    if mark := _STATUS_MARKS.get(s.history.status or ""):
        outcomes += f" {mark}"
    rate = _percent(s.success_rate)
    if s.baseline_success_rate is not None:
        rate += f" (base {_percent(s.baseline_success_rate)})"
    if s.runs == 0:
        latest = DASH
    elif s.latest_outcome is None:
        latest = f"{OUTCOME_ICONS[None]} running"
    else:
        icon = OUTCOME_ICONS.get(s.latest_outcome, "❔")
        measured = s.latest_duration_ms is not None
        latest = f"{icon} {format_duration(s.latest_duration_ms) if measured else 'no duration'}"
    if s.p50_ms is None:
        spread = DASH
    else:
        spread = f"{format_duration(s.p50_ms)} / {format_duration(s.p90_ms)}"
    attempts = DASH if s.attempts_to_first_success is None else str(s.attempts_to_first_success)
    url = safe_https_url(s.latest_url)
    link = f"[logs]({url})" if url else DASH
    cells = (
        name(s),
        escape_markdown(s.kind) or DASH,
        str(s.runs),
        outcomes,
        rate,
        latest,
        spread,
        _baseline_cell(s),
        _delta_cell(s),
        attempts,
        link,
    )
    return "| " + " | ".join(cells) + " |"


def _baseline_cell(s: TaskSummary) -> str:
    """``405 ms, n=8, ±40 ms``; below the minimum, how many more runs it needs."""
    base, band = s.baseline, s.comparison.band_ms
    if base.p50_ms is None or band is None:
        more = base.runs_needed
        return f"n={base.runs}, {more} more {'run' if more == 1 else 'runs'} needed"
    return f"{format_duration(base.p50_ms)}, n={base.runs}, ±{format_duration(band)}"


def _delta_cell(s: TaskSummary) -> str:
    if s.comparison.verdict in (FASTER, SLOWER) and s.delta_pct is not None:
        return f"{s.delta_pct:+.0f} %"
    return "on par" if s.comparison.verdict == ON_PAR else DASH


def _notes(summaries: Sequence[TaskSummary]) -> str:
    unmeasured = sum(s.unmeasured for s in summaries)
    if not unmeasured:
        return ""
    runs = "1 run has" if unmeasured == 1 else f"{unmeasured} runs have"
    return (
        f"{runs} no duration: the job ended before the task reported, so the outcome "
        "comes from the job's webhook and the run counts in outcomes, not in p50 / p90."
    )


def _tables(rows: Sequence[str]) -> str:
    if not rows:
        return ""
    text = _TABLE_HEAD + "\n" + "\n".join(rows[:OPEN_ROWS])
    rest = rows[OPEN_ROWS:]
    if rest:
        # The blank lines let GitHub parse Markdown inside the HTML block.
        text += (
            f"\n\n<details><summary>{len(rest)} more tasks</summary>\n\n"
            + _TABLE_HEAD
            + "\n"
            + "\n".join(rest)
            + "\n\n</details>"
        )
    return text


def _hidden_note(hidden: int, had_rows: bool) -> str:
    if hidden <= 0 or not had_rows:
        return ""
    noun = "task is" if hidden == 1 else "tasks are"
    return f"{hidden} more {noun} not shown here, to keep this comment short."


def _charts(summaries: Sequence[TaskSummary], name: Callable[[TaskSummary], str]) -> str:
    busiest = sorted(
        (s for s in summaries if len(s.recent) >= CHART_MIN_POINTS),
        key=lambda s: -s.runs,
    )[:CHART_TASKS]
    if not busiest:
        return ""
    blocks = "\n\n".join(mermaid_chart(s, label=escape_mermaid_label) for s in busiest)
    which = "the busiest task" if len(busiest) == 1 else f"the {len(busiest)} busiest tasks"
    return f"<details><summary>Recent durations of {which}</summary>\n\n{blocks}\n\n</details>"


def _invitation(summaries: Sequence[TaskSummary]) -> str:
    """One line asking how the tasks felt, with a command that can be copied as it is.

    The example names the PR's first task only when its name needs no escaping, since
    Markdown shows a code span's text literally.
    """
    task = next((s.task for s in summaries if _PLAIN_TASK.fullmatch(s.task)), None)
    example = f"/heatmeter rate 4 {task} quick today" if task else "/heatmeter rate 4 quick today"
    return (
        "How did these tasks feel? Comment `/heatmeter rate N` with N from 1 (awful) to "
        f"5 (great), optionally naming a task and adding a few words: `{example}`"
    )


def _footer(
    repository: str, pull_request: int, updated_at: datetime | None, dashboard_url: str | None
) -> str:
    subject = f"{escape_markdown(repository)} pull request {int(pull_request)}"
    if updated_at is None:
        first = f"For {subject}"
    else:
        if updated_at.tzinfo is not None:
            updated_at = updated_at.astimezone(UTC)
        first = f"Updated {updated_at.strftime('%Y-%m-%d %H:%M UTC')} for {subject}"
    parts = [
        first,
        LEGEND,
        "Baseline: the default branch's p50 on the same runner OS over 28 days, its number "
        "of runs n and its noise band ±; Δ shows only outside the band",
    ]
    if dashboard_url:
        parts.append(f"[dashboard]({dashboard_url})")
    return "<sub>" + " · ".join(parts) + "</sub>"
