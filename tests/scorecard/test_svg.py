"""Inline SVG charts: escaped labels, gaps for missing weeks, a message when empty."""

from __future__ import annotations

from xml.etree import ElementTree

from heatmeter.scorecard.svg import line_chart, share_bar

EVIL = '<script>alert("x")</script>&'


def parse(svg: object) -> ElementTree.Element:
    # Our own output, parsed to prove it is well-formed: nothing untrusted here.
    return ElementTree.fromstring(str(svg))  # noqa: S314


def test_a_line_chart_is_well_formed_svg_with_escaped_labels() -> None:
    svg = line_chart(
        [(EVIL, 0.5), ("w2", None), ("w3", 0.75), ("w4", 1.0)],
        title=EVIL,
        fmt=lambda v: f"{v:.2f}",
        low=0,
        high=1,
    )
    root = parse(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert "<script>" not in str(svg)
    assert root.find(f"{ns}title").text == EVIL
    # The week without a value breaks the line in two; each value gets a point.
    assert len(root.findall(f"{ns}polyline")) == 2
    points = root.findall(f"{ns}circle")
    assert points[0].find(f"{ns}title").text == f"{EVIL}: 0.50"
    assert len(points) == 3


def test_an_empty_chart_says_so() -> None:
    svg = str(line_chart([("w1", None)], title="t", fmt=str))
    assert "no data yet" in svg
    parse(svg)


def test_a_flat_series_still_draws() -> None:
    parse(line_chart([("a", 3.0), ("b", 3.0)], title="t", fmt=str))


def test_share_bar_splits_by_value_and_escapes_names() -> None:
    svg = str(share_bar([("v2", 1), (EVIL, 3), ("none", 0)], title="mix"))
    root = parse(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert [r.get("width") for r in rects] == ["80", "240"]
    assert "<script>" not in svg
