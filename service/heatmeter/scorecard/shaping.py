"""The scorecard as JSON, CSV rows and display text: pure shaping of the queries' results.

One shape for every surface: /v1/summary, the pages' JSON twins and `heatmeter report
--format json` share ``summary_json``; the CSV export flattens the same figures; the page
and the terminal table use the same words for each figure. A figure with too few samples
is null (blank in CSV, "not enough data yet" on screen) rather than a confident number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..summary.vocabulary import format_duration
from .figures import Figure, TaskCard
from .queries import Scorecard, TaskDetail

NOT_ENOUGH = "not enough data yet"
DASH = "—"

CSV_COLUMNS = (
    "task",
    "kind",
    "since",
    "until",
    "runs",
    "succeeded",
    "failed",
    "timed_out",
    "cancelled",
    "skipped",
    "running",
    "success_rate",
    "success_rate_previous",
    "success_rate_change",
    "decisive_runs",
    "first_successes",
    "attempts_to_first_success",
    "p50_ms",
    "p90_ms",
    "p50_ms_previous",
    "p50_change_pct",
    "timed_runs",
    "adoption",
    "adoption_previous",
    "adoption_change",
    "repositories",
    "installed_repositories",
    "outside_app_repositories",
    "happiness",
    "happiness_previous",
    "happiness_change",
    "happiness_responses",
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def shown(figure: Figure) -> float | None:
    """The current value when enough samples stand behind it, else None."""
    return figure.value if figure.enough else None


def shown_previous(figure: Figure) -> float | None:
    return figure.previous if figure.previous_enough else None


def card_json(card: TaskCard) -> dict[str, Any]:
    now, before = card.current, card.previous
    h, e, a, t = card.happiness, card.efficiency, card.adoption, card.success
    return {
        "task": card.task,
        "kind": card.kind,
        "runs": {
            "total": now.runs,
            "succeeded": now.succeeded,
            "failed": now.failed,
            "timed_out": now.timed_out,
            "cancelled": now.cancelled,
            "skipped": now.skipped,
            "running": now.running,
            "previous_total": before.runs,
        },
        "happiness": {
            "mean": _round(shown(h), 2),
            "previous_mean": _round(shown_previous(h), 2),
            "change": _round(h.change, 2),
            "responses": h.samples,
            "previous_responses": h.previous_samples,
            "enough_data": h.enough,
        },
        "efficiency": {
            "p50_ms": _round(shown(e), 1),
            "p90_ms": _round(now.p90_ms, 1) if e.enough else None,
            "previous_p50_ms": _round(shown_previous(e), 1),
            "change_pct": _round(e.change, 1),
            "timed_runs": e.samples,
            "previous_timed_runs": e.previous_samples,
            "enough_data": e.enough,
        },
        "adoption": {
            "share": _round(shown(a), 4),
            "previous_share": _round(shown_previous(a), 4),
            "change": _round(a.change, 4),
            "repositories": now.repositories,
            "previous_repositories": before.repositories,
            "installed_repositories": card.installed_repositories,
            "outside_app_repositories": now.outside_app_repositories,
            "enough_data": a.enough,
        },
        "task_success": {
            "rate": _round(shown(t), 4),
            "previous_rate": _round(shown_previous(t), 4),
            "change": _round(t.change, 4),
            "decisive_runs": t.samples,
            "previous_decisive_runs": t.previous_samples,
            "enough_data": t.enough,
            "first_successes": now.first_successes,
            "attempts_to_first_success": _round(now.attempts_to_first_success, 2),
        },
    }


def summary_json(board: Scorecard) -> dict[str, Any]:
    f = board.filters
    return {
        "window": {
            "since": _iso(f.since),
            "until": _iso(f.until),
            "previous_since": _iso(f.previous_since),
        },
        "filters": {"repository": f.repository, "task": f.task, "kind": f.kind},
        "installed_repositories": board.installed_repositories,
        "tasks": [card_json(card) for card in board.cards],
    }


def task_json(detail: TaskDetail) -> dict[str, Any]:
    f = detail.filters
    return {
        "task": f.task,
        "window": {"since": _iso(f.since), "until": _iso(f.until)},
        "filters": {"repository": f.repository, "kind": f.kind},
        "scorecard": card_json(detail.card) if detail.card else None,
        "weeks": [
            {
                "week": w.week.date().isoformat(),
                "runs": w.stats.runs,
                "decisive_runs": w.stats.decisive_runs,
                "success_rate": _round(w.stats.success_rate, 4),
                "p50_ms": _round(w.stats.p50_ms, 1),
                "p90_ms": _round(w.stats.p90_ms, 1),
                "repositories": w.stats.repositories,
                "happiness_mean": _round(w.stats.happiness_mean, 2),
                "happiness_responses": w.stats.happiness_responses,
            }
            for w in detail.weeks
        ],
        "versions": [
            {
                "version": v.version,
                "repositories": v.repositories,
                "runs": v.runs,
                "success_rate": _round(v.success_rate, 4),
                "p50_ms": _round(v.p50_ms, 1),
                "last_run_at": _iso(v.last_run_at),
            }
            for v in detail.versions
        ],
        "repositories": [
            {
                "repository": r.repository,
                "runs": r.runs,
                "failed": r.failed,
                "success_rate": _round(r.success_rate, 4),
                "p50_ms": _round(r.p50_ms, 1),
                "failing": r.failing,
                "last_run_at": _iso(r.last_run_at),
            }
            for r in detail.repositories
        ],
        "comments": [
            {
                "repository": c.repository,
                "pull_request": c.pull_request,
                "author": c.author,
                "score": c.score,
                "words": c.words,
                "created_at": _iso(c.created_at),
            }
            for c in detail.comments
        ],
    }


def csv_rows(board: Scorecard) -> Iterable[dict[str, Any]]:
    """One flat row per task, keyed by CSV_COLUMNS; None for a figure without enough data."""
    f = board.filters
    for card in board.cards:
        data = card_json(card)
        runs, h, e = data["runs"], data["happiness"], data["efficiency"]
        a, t = data["adoption"], data["task_success"]
        yield {
            "task": card.task,
            "kind": card.kind,
            "since": _iso(f.since),
            "until": _iso(f.until),
            "runs": runs["total"],
            **{k: runs[k] for k in ("succeeded", "failed", "timed_out", "cancelled")},
            **{k: runs[k] for k in ("skipped", "running")},
            "success_rate": t["rate"],
            "success_rate_previous": t["previous_rate"],
            "success_rate_change": t["change"],
            "decisive_runs": t["decisive_runs"],
            "first_successes": t["first_successes"],
            "attempts_to_first_success": t["attempts_to_first_success"],
            "p50_ms": e["p50_ms"],
            "p90_ms": e["p90_ms"],
            "p50_ms_previous": e["previous_p50_ms"],
            "p50_change_pct": e["change_pct"],
            "timed_runs": e["timed_runs"],
            "adoption": a["share"],
            "adoption_previous": a["previous_share"],
            "adoption_change": a["change"],
            "repositories": a["repositories"],
            "installed_repositories": a["installed_repositories"],
            "outside_app_repositories": a["outside_app_repositories"],
            "happiness": h["mean"],
            "happiness_previous": h["previous_mean"],
            "happiness_change": h["change"],
            "happiness_responses": h["responses"],
        }


# Display text, shared by the page and the terminal table.


def rate_text(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.0f} %"


def score_text(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} / 5"


def duration_text(ms: float | None) -> str:
    return format_duration(ms)


def change_text(figure: Figure, *, kind: str) -> str:
    """How a figure moved: ``+4 pts``, ``-12 %`` (with a minus sign), ``+0.3``; empty when
    it cannot be told."""
    change = figure.change
    if change is None:
        return ""
    sign = "+" if change > 0 else "−" if change < 0 else "±"  # noqa: RUF001 - a minus sign
    size = abs(change)
    if kind == "rate":
        return f"{sign}{size * 100:.0f} pts"
    if kind == "duration":
        return f"{sign}{size:.0f} %"
    return f"{sign}{size:.1f}"


def trend_class(figure: Figure, *, lower_is_better: bool = False) -> str:
    """``better``, ``worse`` or ``same``, for colouring a change; ``same`` when unknown."""
    change = figure.change
    if change is None or abs(change) < 1e-9:
        return "same"
    improved = change < 0 if lower_is_better else change > 0
    return "better" if improved else "worse"


def attempts_text(mean: float | None) -> str:
    return DASH if mean is None else f"{mean:.1f} attempts" if mean != 1 else "1 attempt"


def samples_text(count: int, noun: str, plural: str | None = None) -> str:
    """``1 run``, ``3 runs``; ``plural`` for nouns that do not just take an s."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"
