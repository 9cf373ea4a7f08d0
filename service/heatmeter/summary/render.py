"""Renders task summaries as the sticky pull-request comment, in GitHub-flavoured Markdown."""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .metrics import (
    CANCELLED,
    FAILURE,
    ON_PAR_PCT,
    SKIPPED,
    SUCCESS,
    TIMED_OUT,
    TaskSummary,
    is_less_reliable,
    verdict,
)

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
MAX_LABEL_CHARS = 40
MAX_URL_CHARS = 500
# Charts are drawn for this many of the busiest tasks, each needing a few points.
CHART_TASKS = 3
CHART_MIN_POINTS = 2

# A zero-width space, written as an entity so the Markdown source stays visible ASCII.
_ZWSP = "&#8203;"
# Everything else passes as a numeric entity: no character of a user's text then means
# anything to Markdown (tables, links, HTML, code, emphasis) or ends the hidden marker.
_PLAIN_ASCII = frozenset(string.ascii_letters + string.digits + " ")
# Only characters that cannot close a Markdown link, open HTML or form an entity.
_URL_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?#=%+,!$*")
# Task names that read the same inside a Markdown code span as outside it.
_PLAIN_TASK = re.compile(r"[A-Za-z0-9._-]{1,40}")
_MERMAID_CHARS = frozenset(string.ascii_letters + string.digits + " -_./+")

_OUTCOME_ICONS = {
    SUCCESS: "✅",
    FAILURE: "❌",
    TIMED_OUT: "⏱️",
    CANCELLED: "🚫",
    SKIPPED: "⏭️",
    None: "⏳",
}
_LEGEND = "✅ success ❌ failure ⏱️ timed out 🚫 cancelled ⏭️ skipped ⏳ running"
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
_DASH = "—"


def escape_markdown(text: str) -> str:
    """Text made inert for GitHub Markdown, tables and HTML: it renders as itself and no more.

    Letters, digits and spaces stay; every other character becomes a numeric entity
    (``@`` is ``&#64;``, ``|`` is ``&#124;``), so it cannot build a link, tag, comment, code
    span or table cell. Entities alone do not stop GitHub's mentions, issue references
    and autolinks, which are found after entities are decoded, so a zero-width space
    follows ``@``, ``#``, ``:``, the ``-`` of ``GH-1`` and the ``.`` of ``www.``. Line
    breaks and other control characters become spaces; invisible format characters
    (bidirectional overrides, zero-width joiners) are dropped.
    """
    cleaned = _clean(text)
    out: list[str] = []
    for index, char in enumerate(cleaned):
        if char in _PLAIN_ASCII or (ord(char) > 127 and char.isalnum()):
            out.append(char)
            continue
        out.append(f"&#{ord(char)};")
        after = cleaned[index + 1 : index + 2]
        if (
            char in "@#:"
            or (char == "-" and after.isdigit())
            or (char == "." and cleaned[max(0, index - 3) : index].lower() == "www")
        ):
            out.append(_ZWSP)
    return "".join(out)


def escape_mermaid_label(text: str) -> str:
    """Text safe inside a double-quoted Mermaid label on one line of a fenced block.

    Only letters, digits, spaces and ``-_./+`` survive; anything else (quotes, backticks,
    brackets, ``%%`` directives, line breaks) becomes ``_``. Mermaid has no escape that
    every diagram type honours, so replacing is the dependable choice.
    """
    safe = "".join(char if char in _MERMAID_CHARS else "_" for char in _clean(text))
    return _shorten(safe, MAX_LABEL_CHARS)


def safe_https_url(url: str | None) -> str | None:
    """The URL if it is a plain ``https://`` URL that can sit in a Markdown link, else None."""
    if not url or len(url) > MAX_URL_CHARS or not url.startswith("https://"):
        return None
    if not set(url) <= _URL_CHARS:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    return url


def format_duration(ms: float | None) -> str:
    """A duration for people: ``850 ms``, ``1.2 s``, ``42 s``, ``3 m 05 s``, ``1 h 02 m``."""
    if ms is None:
        return _DASH
    whole_ms = int(max(ms, 0) + 0.5)
    if whole_ms < 1000:
        return f"{whole_ms} ms"
    tenths = (whole_ms + 50) // 100
    if tenths < 100:
        return f"{tenths // 10}.{tenths % 10} s"
    seconds = (whole_ms + 500) // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} m {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def render_summary(
    summaries: Sequence[TaskSummary],
    *,
    repository: str,
    pull_request: int,
    updated_at: datetime,
    dashboard_url: str | None = None,
) -> str:
    """The whole comment: title, verdict, task tables, charts and footer.

    The sticky comment's hidden marker is added by ``comments.sticky`` when it writes.

    ``updated_at`` is shown in UTC (a naive datetime is taken to be UTC already). The
    result never exceeds MAX_COMMENT_CHARS: charts go first, then rows from the end.
    """
    ordered = sorted((_bounded(s) for s in summaries), key=_attention_order)
    head = f"{TITLE}\n\n{escape_markdown(verdict(ordered))}"
    footer = _footer(repository, pull_request, updated_at, safe_https_url(dashboard_url))
    invitation = _invitation(ordered)
    rows = [_row(summary) for summary in ordered[:MAX_ROWS]]
    charts = _charts(ordered)
    # Drop the charts first, then rows from the end, until the comment fits.
    attempts = [(len(rows), charts)] + [(shown, "") for shown in range(len(rows), -1, -1)]
    for shown, chart_block in attempts:
        hidden = len(ordered) - shown
        parts = [head, _tables(rows[:shown]), _hidden_note(hidden, bool(rows)), chart_block]
        text = "\n\n".join(part for part in (*parts, invitation, footer) if part) + "\n"
        if len(text) <= MAX_COMMENT_CHARS:
            return text
    return f"{TITLE}\n\nThe summary is too large to show here.\n"


def _clean(text: str) -> str:
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cf", "Cs"):
            continue
        kept.append(" " if category in ("Cc", "Zs", "Zl", "Zp") else char)
    return " ".join("".join(kept).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _bounded(summary: TaskSummary) -> TaskSummary:
    # Names are cut before anything renders them, the verdict included, to bound the size.
    return dataclasses.replace(
        summary,
        task=_shorten(_clean(summary.task), MAX_NAME_CHARS) or "(unnamed)",
        kind=_shorten(_clean(summary.kind), MAX_NAME_CHARS),
    )


def _attention_order(summary: TaskSummary) -> tuple[bool, int, str, str]:
    needs_attention = (
        summary.failed > 0
        or is_less_reliable(summary)
        or (summary.delta_pct is not None and summary.delta_pct > ON_PAR_PCT)
    )
    return (not needs_attention, -summary.runs, summary.task, summary.kind)


def _percent(fraction: float | None) -> str:
    return _DASH if fraction is None else f"{fraction * 100:.0f} %"


def _row(s: TaskSummary) -> str:
    counts = (
        (s.success, SUCCESS),
        (s.failure, FAILURE),
        (s.timed_out, TIMED_OUT),
        (s.cancelled, CANCELLED),
        (s.skipped, SKIPPED),
        (s.running, None),
    )
    outcomes = " ".join(f"{n} {_OUTCOME_ICONS[o]}" for n, o in counts if n) or _DASH
    rate = _percent(s.success_rate)
    if s.baseline_success_rate is not None:
        rate += f" (base {_percent(s.baseline_success_rate)})"
    if s.runs == 0:
        latest = _DASH
    elif s.latest_outcome is None:
        latest = f"{_OUTCOME_ICONS[None]} running"
    else:
        icon = _OUTCOME_ICONS.get(s.latest_outcome, "❔")
        latest = f"{icon} {format_duration(s.latest_duration_ms)}"
    if s.p50_ms is None:
        spread = _DASH
    else:
        spread = f"{format_duration(s.p50_ms)} / {format_duration(s.p90_ms)}"
    if s.baseline_p50_ms is None:
        baseline = "no baseline yet"
    else:
        baseline = f"{format_duration(s.baseline_p50_ms)} (n={s.baseline_runs})"
    delta = _DASH if s.delta_pct is None else f"{s.delta_pct:+.0f} %"
    attempts = _DASH if s.attempts_to_first_success is None else str(s.attempts_to_first_success)
    url = safe_https_url(s.latest_url)
    link = f"[logs]({url})" if url else _DASH
    cells = (
        escape_markdown(s.task),
        escape_markdown(s.kind) or _DASH,
        str(s.runs),
        outcomes,
        rate,
        latest,
        spread,
        baseline,
        delta,
        attempts,
        link,
    )
    return "| " + " | ".join(cells) + " |"


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


def _charts(summaries: Sequence[TaskSummary]) -> str:
    busiest = sorted(
        (s for s in summaries if len(s.recent_durations_ms) >= CHART_MIN_POINTS),
        key=lambda s: -s.runs,
    )[:CHART_TASKS]
    if not busiest:
        return ""
    blocks = "\n\n".join(_chart(s) for s in busiest)
    return (
        f"<details><summary>Recent durations of the {len(busiest)} busiest tasks</summary>"
        f"\n\n{blocks}\n\n</details>"
    )


def _chart(s: TaskSummary) -> str:
    points = list(s.recent_durations_ms)
    peak = max([*points, s.baseline_p50_ms or 0])
    if peak < 1000:
        unit, divisor, digits = "ms", 1, 0
    elif peak < 600_000:
        unit, divisor, digits = "s", 1000, 1 if peak < 60_000 else 0
    else:
        unit, divisor, digits = "min", 60_000, 1

    def series(values: Sequence[float]) -> str:
        return "[" + ", ".join(f"{v / divisor:.{digits}f}" for v in values) + "]"

    against = " vs baseline p50" if s.baseline_p50_ms is not None else ""
    title = f"{escape_mermaid_label(s.task)}: last {len(points)} runs{against} ({unit})"
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        "    x-axis [" + ", ".join(f'"{i}"' for i in range(1, len(points) + 1)) + "]",
        f'    y-axis "{unit}"',
        f"    bar {series(points)}",
    ]
    if s.baseline_p50_ms is not None:
        # A flat line at the baseline p50: bars above it are slower than the default branch.
        lines.append(f"    line {series([s.baseline_p50_ms] * len(points))}")
    lines.append("```")
    return "\n".join(lines)


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
    repository: str, pull_request: int, updated_at: datetime, dashboard_url: str | None
) -> str:
    if updated_at.tzinfo is not None:
        updated_at = updated_at.astimezone(UTC)
    stamp = updated_at.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"Updated {stamp} for {escape_markdown(repository)} pull request {int(pull_request)}",
        _LEGEND,
        f"Δ compares p50 with the default branch; within ±{ON_PAR_PCT:.0f} % is on par",
    ]
    if dashboard_url:
        parts.append(f"[dashboard]({dashboard_url})")
    return "<sub>" + " · ".join(parts) + "</sub>"
