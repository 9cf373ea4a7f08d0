"""The comment's Mermaid charts: recent durations from zero, against the baseline p50.

Every chart is checked against Mermaid 11's own parser by tests/test_mermaid_charts.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .metrics import TaskSummary


def mermaid_chart(s: TaskSummary, *, label: Callable[[str], str]) -> str:
    """A Mermaid bar chart of the recent measured runs, from zero, against the baseline.

    The y-axis starts at 0 (an axis from the smallest value makes a run twice as long
    look ten times as tall); each bar is labelled with its run's start time in UTC.
    ``label`` makes user text (the task's name, the runner OS) safe in a quoted label.
    """
    points = [duration for _, duration in s.recent]
    base = s.baseline.p50_ms
    peak = max([*points, base or 0])
    if peak < 1000:
        unit, divisor, digits = "ms", 1, 0
    elif peak < 600_000:
        # Hundredths under 10 s, so runs 50 ms apart do not draw as equal bars.
        digits = 2 if peak < 10_000 else 1 if peak < 60_000 else 0
        unit, divisor = "s", 1000
    else:
        unit, divisor, digits = "min", 60_000, 1

    def series(values: Sequence[float]) -> str:
        return "[" + ", ".join(f"{v / divisor:.{digits}f}" for v in values) + "]"

    against = " vs baseline p50" if base is not None else ""
    os = f" on {label(s.runner_os)}" if s.runner_os else ""
    title = f"{label(s.task)}{os}: last {len(points)} runs{against} ({unit})"
    labels = ", ".join(f'"{label}"' for label in _time_labels([t for t, _ in s.recent]))
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f'    x-axis "run started (UTC)" [{labels}]',
        f'    y-axis "{unit}" 0 --> {_axis_top(peak / divisor)}',
        f"    bar {series(points)}",
    ]
    if base is not None:
        # A flat line at the baseline p50: bars above it are slower than the default branch.
        lines.append(f"    line {series([base] * len(points))}")
    lines.append("```")
    return "\n".join(lines)


def _time_labels(times: Sequence[datetime]) -> list[str]:
    """``11-01 12:05`` for each start (UTC), made unique: Mermaid merges equal labels."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for moment in times:
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        label = moment.strftime("%m-%d %H:%M")
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels


def _axis_top(peak: float) -> str:
    """A round number a little above the peak: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times 10^k."""
    if peak <= 0:
        return "1"
    target = peak * 1.05
    power = 10 ** math.floor(math.log10(target))
    steps = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
    top = next(m * power for m in steps if m * power >= target)
    return f"{top:g}" if top >= 1 else f"{top:.10f}".rstrip("0")
