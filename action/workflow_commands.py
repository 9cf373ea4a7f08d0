"""GitHub Actions workflow commands: log annotations, masks, groups, outputs, step summary."""

from __future__ import annotations

import sys

from action import system

# The runner reads the log as UTF-8; a Windows pipe would otherwise get the ANSI code page,
# and a task name outside it would end the action with an encoding error.
if (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
    sys.stdout.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]

SUMMARY_HEADER = "| Task | Kind | Outcome | Duration | Report |\n| --- | --- | --- | ---: | --- |\n"

# The same icons and words as the service's PR comment (heatmeter/summary/render.py);
# tests/test_vocabulary.py checks that the two agree.
OUTCOME_LABELS = {
    "success": "✅ success",
    "failure": "❌ failure",
    "cancelled": "⏹️ cancelled",
    "timed_out": "⏱️ timed out",
    "skipped": "⏭️ skipped",
}


def escape_data(value: str) -> str:
    """Escape a command's message so a newline or `%` cannot end it or start another."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _emit(line: str) -> None:
    # One write per command: the runner parses whole lines, and the wrapped command writes to
    # the same stdout, so a line must never be split across flushes.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    """A plain log line (no annotation), kept on one line."""
    _emit(message.replace("\r", " ").replace("\n", " "))


def warning(message: str) -> None:
    _emit("::warning title=heatmeter::" + escape_data(message))


def error(message: str) -> None:
    _emit("::error title=heatmeter::" + escape_data(message))


def add_mask(secret: str) -> None:
    """Ask the runner to hide `secret` (each of its lines) from every later log line."""
    for line in {secret, *secret.splitlines()}:
        if line.strip():
            _emit("::add-mask::" + escape_data(line))


def group(title: str) -> None:
    _emit("::group::" + escape_data(title))


def endgroup() -> None:
    _emit("::endgroup::")


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def set_outputs(outputs: dict[str, str]) -> None:
    """Write step outputs to `GITHUB_OUTPUT` with the heredoc form, which no value can break."""
    path = system.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    chunks = []
    for name, value in outputs.items():
        delimiter = "ghadelimiter_" + system.urandom(16).hex()
        while delimiter in value:
            delimiter = "ghadelimiter_" + system.urandom(16).hex()
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    _append(path, "".join(chunks))


def markdown_code_cell(text: str) -> str:
    """`text` as an inline code span that is safe in a GFM table cell.

    Inside a code span nothing is a mention, link, emphasis or HTML. Only the table's own
    syntax still applies there: `|` must be written `\\|`, and a backslash right before it
    would turn that escape back into a cell border, so it is kept apart with a zero-width
    space. Control characters (a newline ends the row) become spaces.
    """
    cleaned = "".join(" " if ord(char) < 32 or ord(char) == 127 else char for char in text)
    if not cleaned.strip():
        return "&nbsp;"
    parts: list[str] = []
    for char in cleaned:
        if char == "|":
            if parts and parts[-1] == "\\":
                parts.append("\u200b")
            parts.append("\\|")
        else:
            parts.append(char)
    body = "".join(parts)
    longest = run = 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each side when both are present, so the padding
    # lets a name that starts or ends with a backtick keep it.
    return f"{fence} {body} {fence}"


def format_duration(duration_ms: float) -> str:
    """``850 ms``, ``1.2 s``, ``42 s``, ``3 min 05 s``, ``1 h 02 min``, as the PR comment."""
    whole_ms = int(max(duration_ms, 0) + 0.5)
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


def summary_table(task: str, kind: str, outcome: str, duration_ms: int, report: str) -> str:
    """A one-row Markdown table: each step's summary renders on its own, so each has a header."""
    row = (
        f"| {markdown_code_cell(task)} | {kind} | {OUTCOME_LABELS.get(outcome, outcome)} "
        f"| {format_duration(duration_ms)} | {report} |\n"
    )
    # A blank line first: the wrapped command may have written to the summary too, and a
    # table right under a paragraph line would take that line as its header.
    return "\n\n" + SUMMARY_HEADER + row


def append_summary(markdown: str) -> None:
    path = system.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        _append(path, markdown)
