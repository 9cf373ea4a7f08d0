"""The scorecard's HTML: Jinja2 templates (autoescaped, async) over the queries' results.

Pure rendering: data in, a page out. Styles are inline and no script runs, so the page
works inside a locked-down network; the Content-Security-Policy allows exactly the one
stylesheet by its hash and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup

from . import shaping, svg
from .figures import failing, slowest
from .filters import KINDS, Filters, day_end, format_period
from .queries import Scorecard, TaskDetail

TEMPLATES = Path(__file__).resolve().parent / "templates"
PERIODS = (("7d", "7 days"), ("28d", "28 days"), ("90d", "90 days"), ("182d", "26 weeks"))
STYLE = (TEMPLATES / "style.css").read_text()
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'",
        "img-src data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        enable_async=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        rate_text=shaping.rate_text,
        score_text=shaping.score_text,
        duration_text=shaping.duration_text,
        change_text=shaping.change_text,
        trend_class=shaping.trend_class,
        samples_text=shaping.samples_text,
        attempts_text=shaping.attempts_text,
        day_text=day_text,
        # Our own file, read once: trusted markup, and the CSP allows exactly its hash.
        style=Markup(STYLE),  # noqa: S704
    )
    return env


def day_text(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%-d %b %Y")


def url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def task_path(task: str) -> str:
    return "/tasks/" + quote(task, safe="")


def task_url(task: str, f: Filters, *, json: bool = False) -> str:
    """The task page (or its JSON twin) for ``task``, keeping the window and repository.

    A task named like ``x.json`` would reach the JSON twin of ``x``; ``format=html`` tells
    the router which one is meant.
    """
    params = f.query(task=None, kind=None)
    if json:
        return url(task_path(task) + ".json", params)
    if task.endswith(".json"):
        params["format"] = "html"
    return url(task_path(task), params)


def slug(text: str) -> str:
    """A CSS-class-safe rendering of a name, for the page's ``<body>`` classes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def window_text(f: Filters, now: datetime) -> str:
    span = f"{day_text(f.since)} to {day_text(f.until - timedelta(microseconds=1))}"
    length = format_period(f.period).replace("d", " days")
    if f.until == day_end(now):
        return f"Last {length}, today included ({span}), against the {length} before"
    return f"{span} against the {length} before"


def _form(f: Filters, path: str, repositories: list[str], *, show_kind: bool) -> dict[str, Any]:
    window = dict(f.window_params)
    period = window.get("period") or format_period(f.period)
    return {
        "filters": f,
        "form_action": path,
        "repositories": repositories,
        "kinds": KINDS,
        "show_kind": show_kind,
        "periods": PERIODS,
        "period": period,
        "period_values": [value for value, _ in PERIODS],
        "until_param": window.get("until"),
        "filtered": bool(f.repository or f.kind or window),
        "format_html": False,
    }


async def scorecard_page(
    board: Scorecard, *, repositories: list[str], demo: str | None, now: datetime
) -> str:
    f = board.filters
    template = environment().get_template("scorecard.html")
    return await template.render_async(
        board=board,
        json_url=url("/.json", f.query()),
        window_text=window_text(f, now),
        task_url=lambda task: task_url(task, f),
        demo=demo,
        **_form(f, "/", repositories, show_kind=True),
    )


def week_label(week: datetime) -> str:
    year, number, _ = week.isocalendar()
    return f"{year}-W{number:02d}"


def charts(detail: TaskDetail, installed: int) -> list[dict[str, Any]]:
    """The task page's four trend charts, one per HEAT metric (and p90 beside p50)."""
    weeks = detail.weeks
    labels = [week_label(w.week) for w in weeks]

    def series(values: list[float | None]) -> list[tuple[str, float | None]]:
        return list(zip(labels, values, strict=True))

    share = [
        min(w.stats.repositories / installed, 1.0) if installed and w.stats.runs else None
        for w in weeks
    ]
    return [
        {
            "name": "success",
            "title": "Task success per week",
            "svg": svg.line_chart(
                series([w.stats.success_rate for w in weeks]),
                title="Task success rate per week",
                fmt=shaping.rate_text,
                low=0,
                high=1,
            ),
        },
        {
            "name": "efficiency",
            "title": "p50 duration per week",
            "svg": svg.line_chart(
                series([w.stats.p50_ms for w in weeks]),
                title="p50 duration per week",
                fmt=shaping.duration_text,
                low=0,
            ),
        },
        {
            "name": "adoption",
            "title": "Adoption per week",
            "svg": svg.line_chart(
                series(share),
                title="Share of installed repositories running it per week",
                fmt=shaping.rate_text,
                low=0,
                high=1,
            ),
        },
        {
            "name": "happiness",
            "title": "Happiness per week",
            "svg": svg.line_chart(
                series([w.stats.happiness_mean for w in weeks]),
                title="Mean happiness score per week",
                fmt=shaping.score_text,
                low=1,
                high=5,
            ),
        },
    ]


async def task_page(
    detail: TaskDetail,
    *,
    installed: int,
    repositories: list[str],
    demo: str | None,
    now: datetime,
) -> str:
    f = detail.filters
    assert f.task is not None
    versions = detail.versions
    template = environment().get_template("task.html")
    return await template.render_async(
        task=f.task,
        task_slug=slug(f.task),
        card=detail.card,
        charts=charts(detail, installed),
        versions=versions,
        version_bar=svg.share_bar(
            [(v.version or "(none)", v.runs) for v in versions], title="Runs per version"
        ),
        slowest=slowest(detail.repositories),
        failing=failing(detail.repositories),
        comments=detail.comments,
        json_url=task_url(f.task, f, json=True),
        back_url=url("/", f.query(task=None)),
        repository_url=lambda repo: task_url(f.task, f.narrowed(repository=repo)),
        window_text=window_text(f, now),
        demo=demo,
        **{
            **_form(f, task_path(f.task), repositories, show_kind=False),
            "format_html": f.task.endswith(".json"),
        },
    )


async def signin_page(*, required: bool, next_path: str, wrong: bool) -> str:
    template = environment().get_template("signin.html")
    return await template.render_async(
        required=required, next=next_path, wrong=wrong, json_url=None, demo=None
    )


async def error_page(status: int, heading: str, detail: str) -> str:
    template = environment().get_template("error.html")
    return await template.render_async(
        status=status, heading=heading, detail=detail, json_url=None, demo=None
    )
