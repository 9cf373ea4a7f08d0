"""Inline SVG charts for the scorecard page: pure functions from numbers to markup.

Every label is escaped here, so a task or version name cannot open a tag; colours come
from CSS classes, so light and dark mode restyle the charts without redrawing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 320
HEIGHT = 120
PAD_LEFT = 6
PAD_RIGHT = 6
PAD_TOP = 16
PAD_BOTTOM = 18


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    fmt: Callable[[float], str],
    low: float | None = None,
    high: float | None = None,
) -> Markup:
    """A small line chart: one point per label (a week), gaps where the value is None.

    ``low`` / ``high`` pin the vertical scale (0 and 1 for a rate) when given; otherwise
    it spans the values. Each point carries a ``<title>`` tooltip with label and value.
    """
    values = [v for _, v in points if v is not None]
    label = escape(title)
    head = Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
    ).format(w=WIDTH, h=HEIGHT, label=label)
    if not values:
        return head + Markup(
            '<text class="empty" x="{x}" y="{y}" text-anchor="middle">no data yet</text></svg>'
        ).format(x=WIDTH // 2, y=HEIGHT // 2)
    bottom = min(values) if low is None else low
    top = max(values) if high is None else high
    if top == bottom:
        top, bottom = top + 1, max(bottom - 1, 0) if bottom >= 0 else bottom - 1
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return PAD_LEFT + (i * step if len(points) > 1 else inner_w / 2)

    def y(value: float) -> float:
        return PAD_TOP + inner_h - (value - bottom) / (top - bottom) * inner_h

    parts = [head]
    for level in (top, bottom):
        parts.append(
            Markup(
                '<line class="grid" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>'
                '<text class="axis" x="{x1}" y="{ty}">{text}</text>'
            ).format(
                x1=PAD_LEFT,
                x2=WIDTH - PAD_RIGHT,
                y=_num(y(level)),
                ty=_num(y(level) - 3),
                text=fmt(level),
            )
        )
    # Consecutive points form segments; a week without data breaks the line.
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (_, value) in enumerate(points):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_num(x(i))},{_num(y(value))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(Markup('<polyline class="line" points="{}"/>').format(" ".join(seg)))
    for i, (name, value) in enumerate(points):
        if value is None:
            continue
        parts.append(
            Markup(
                '<circle class="point" cx="{cx}" cy="{cy}" r="2.5"><title>{name}: {text}</title>'
                "</circle>"
            ).format(cx=_num(x(i)), cy=_num(y(value)), name=name, text=fmt(value))
        )
    first, last = points[0][0], points[-1][0]
    parts.append(
        Markup(
            '<text class="axis" x="{x1}" y="{y}">{first}</text>'
            '<text class="axis" x="{x2}" y="{y}" text-anchor="end">{last}</text>'
        ).format(x1=PAD_LEFT, x2=WIDTH - PAD_RIGHT, y=HEIGHT - 4, first=first, last=last)
    )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def share_bar(parts: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """One horizontal bar split by share (the version mix); shares need not sum to 1.

    Segments cycle through ``share-0`` … ``share-5`` classes for their colours.
    """
    total = sum(value for _, value in parts if value > 0)
    label = escape(title)
    out = [
        Markup(
            '<svg class="bar" viewBox="0 0 {w} 24" role="img" aria-label="{label}" '
            'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="none"><title>{label}</title>'
        ).format(w=WIDTH, label=label)
    ]
    offset = 0.0
    for index, (name, value) in enumerate(parts):
        if value <= 0 or total <= 0:
            continue
        width = value / total * WIDTH
        out.append(
            Markup(
                '<rect class="share-{n}" x="{x}" y="0" width="{w}" height="24">'
                "<title>{name}: {pct} %</title></rect>"
            ).format(
                n=index % 6,
                x=_num(offset),
                w=_num(width),
                name=name,
                pct=_num(value / total * 100),
            )
        )
        offset += width
    out.append(Markup("</svg>"))
    return Markup("").join(out)
