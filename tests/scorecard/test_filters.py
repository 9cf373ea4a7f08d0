"""The scorecard's filters: URL query parameters and CLI flags to a window and narrowing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heatmeter.scorecard.filters import FilterError, format_period, parse_filters

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ALL = frozenset({"repository", "task", "kind", "since", "until", "period"})


def parse(**params: str):
    return parse_filters(params, NOW, allowed=ALL)


def test_the_default_window_is_the_last_28_days_against_the_28_before() -> None:
    f = parse()
    assert (f.since, f.until) == (NOW - timedelta(days=28), NOW)
    assert f.previous_since == NOW - timedelta(days=56)
    assert f.query() == {}


@pytest.mark.parametrize(
    ("text", "ago"),
    [("28d", timedelta(days=28)), ("4w", timedelta(weeks=4)), ("12h", timedelta(hours=12))],
)
def test_since_takes_a_duration_back_from_now(text: str, ago: timedelta) -> None:
    assert parse(since=text).since == NOW - ago


def test_since_and_until_take_iso_dates_and_date_times() -> None:
    f = parse(since="2026-11-01", until="2026-11-15T06:00:00+01:00")
    assert f.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert f.until == datetime(2026, 11, 15, 5, tzinfo=UTC)
    assert f.previous_since == f.since - (f.until - f.since)


def test_links_keep_the_window_as_written_and_the_narrowing() -> None:
    f = parse(period="7d", repository="octo/a", kind="deploy")
    assert f.since == NOW - timedelta(days=7)
    assert f.query() == {"period": "7d", "repository": "octo/a", "kind": "deploy"}
    assert f.query(kind=None) == {"period": "7d", "repository": "octo/a"}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"period": "a month"}, "period"),
        ({"kind": "build"}, "kind"),
        ({"since": "2026-11-20", "until": "2026-11-10"}, "since"),
        ({"since": "2020-01-01"}, "since"),
        ({"since": "28d", "period": "7d"}, "period"),
        ({"repository": "x" * 201}, "repository"),
        ({"task": "a\nb"}, "task"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_parameter_is_named(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(**params)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(f"{parameter}: ")


def test_periods_are_written_the_way_people_say_them() -> None:
    assert format_period(timedelta(days=28)) == "28d"
    assert format_period(timedelta(hours=36)) == "36h"
