"""The words and icons heatmeter says outcomes and durations with, everywhere it shows them.

The action's job summary (action/workflow_commands.py, standard library only, so it
cannot import this) says them the same way; tests/test_vocabulary.py checks both agree.
"""

from __future__ import annotations

from .metrics import CANCELLED, FAILURE, SKIPPED, SUCCESS, TIMED_OUT
from .verdict import FLAKY_ICON

DASH = "—"

OUTCOME_ICONS = {
    SUCCESS: "✅",
    FAILURE: "❌",
    TIMED_OUT: "⏱️",
    CANCELLED: "⏹️",
    SKIPPED: "⏭️",
    None: "⏳",
}
OUTCOME_WORDS = {
    SUCCESS: "success",
    FAILURE: "failure",
    TIMED_OUT: "timed out",
    CANCELLED: "cancelled",
    SKIPPED: "skipped",
    None: "running",
}
LEGEND = " ".join(f"{OUTCOME_ICONS[o]} {OUTCOME_WORDS[o]}" for o in OUTCOME_ICONS) + (
    f" {FLAKY_ICON} flaky (failed, then passed on the same commit)"
)


def format_duration(ms: float | None) -> str:
    """A duration for people: ``850 ms``, ``1.2 s``, ``42 s``, ``3 min 05 s``, ``1 h 02 min``.

    The action's job summary says durations the same way (action/workflow_commands.py).
    """
    if ms is None:
        return DASH
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
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
