"""Pull-request summary: pure metrics from task runs, and the Markdown comment they become."""

from .metrics import RunSample, TaskSummary, percentile, success_rate, summarize_task, verdict
from .render import MARKER, escape_markdown, escape_mermaid_label, render_summary

__all__ = [
    "MARKER",
    "RunSample",
    "TaskSummary",
    "escape_markdown",
    "escape_mermaid_label",
    "percentile",
    "render_summary",
    "success_rate",
    "summarize_task",
    "verdict",
]
