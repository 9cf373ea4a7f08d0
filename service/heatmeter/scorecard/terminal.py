"""`heatmeter report` output: a rich table for people, stable JSON and CSV for machines.

As GitHub's `gh` does: a table on a terminal, exact formats on request, no colour when
the output is piped (rich turns colour off by itself then, and honours NO_COLOR).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .figures import Figure, TaskCard
from .filters import format_period
from .queries import Scorecard
from .shaping import (
    CSV_COLUMNS,
    change_text,
    csv_rows,
    duration_text,
    rate_text,
    samples_text,
    score_text,
    summary_json,
    trend_class,
)

FORMATS = ("table", "json", "csv")
TABLE_WIDTH = 80
# Characters a spreadsheet reads as the start of a formula (OWASP's list).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_STYLES = {"better": "green", "worse": "red", "same": "dim"}


def safe_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not execute: text that could start a formula gets a '.

    Numbers stay numbers (a negative change is a number, not a formula).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


def write_csv(board: Scorecard, out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(board):
        writer.writerow({key: safe_cell(value) for key, value in row.items()})


def write_json(board: Scorecard, out: IO[str]) -> None:
    json.dump(summary_json(board), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _cell(figure: Figure, text: str, kind: str, samples: str, *, lower_is_better: bool) -> Text:
    """Three short lines, so four metrics fit 80 columns: value, change, samples."""
    cell = Text(no_wrap=True, overflow="ellipsis")
    if figure.enough:
        cell.append(text, style="bold")
        change = change_text(figure, kind=kind)
        style = _STYLES[trend_class(figure, lower_is_better=lower_is_better)]
        cell.append(f"\n{change or '·'}", style=style)
    else:
        cell.append("too few\n", style="italic dim")
    cell.append(f"\n{samples}", style="dim")
    return cell


def _row(card: TaskCard) -> list[Text]:
    now = card.current
    task = Text(card.task, style="bold", overflow="fold")
    task.append(f"\n{card.kind}\n{samples_text(now.runs, 'run')}", style="dim")
    adoption = f"{now.repositories}/{card.installed_repositories}"
    if now.outside_app_repositories:
        adoption += f" +{now.outside_app_repositories} out"
    return [
        task,
        _cell(card.happiness, score_text(card.happiness.value), "score",
              samples_text(card.happiness.samples, "vote"), lower_is_better=False),
        _cell(card.efficiency, duration_text(card.efficiency.value), "duration",
              f"{card.efficiency.samples} timed", lower_is_better=True),
        _cell(card.adoption, rate_text(card.adoption.value), "rate", adoption,
              lower_is_better=False),
        _cell(card.success, rate_text(card.success.value), "rate",
              f"{card.success.samples} decisive", lower_is_better=False),
    ]  # fmt: skip


def table(board: Scorecard) -> Table:
    f = board.filters
    period = format_period(f.period).replace("d", " days")
    last_day = f.until - timedelta(days=1)  # the window ends at the midnight after it
    title = (
        f"heatmeter scorecard: {f.since:%Y-%m-%d} to {last_day:%Y-%m-%d}, vs the {period} before"
    )
    result = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        caption="too few = not enough data yet · 6/8 = repositories running it / with the "
        "app installed · out = running it outside the app",
        expand=False,
        pad_edge=False,
    )
    result.add_column("Task", overflow="fold", min_width=12)
    for name in ("Happiness", "Efficiency", "Adoption", "Success"):
        result.add_column(name, no_wrap=True)
    for card in board.cards:
        result.add_row(*_row(card))
    return result


def write_table(board: Scorecard, out: IO[str], *, width: int | None = None) -> None:
    """The table, at most TABLE_WIDTH columns wide (narrower on a narrower terminal)."""
    console = Console(file=out, width=width)
    console = Console(file=out, width=min(console.width, TABLE_WIDTH))
    if not board.cards:
        console.print("No task runs in this window. Try a longer --since, or `heatmeter demo`.")
        return
    console.print(table(board))


def render(board: Scorecard, fmt: str) -> str:
    """The report as text in one of FORMATS (for tests and callers without a stream)."""
    buffer = io.StringIO()
    {"table": write_table, "json": write_json, "csv": write_csv}[fmt](board, buffer)
    return buffer.getvalue()
