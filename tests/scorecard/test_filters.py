"""The scorecard's filters: URL query parameters and CLI flags to a window and narrowing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heatmeter.scorecard.filters import FilterError, format_period, parse_filters

# Fixed dates: parse_filters is pure and is given its now; the dates are the point.
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ALL = frozenset({"repository", "task", "kind", "since", "until", "period"})


def parse(**params: str):
    return parse_filters(params, NOW, allowed=ALL)


MIDNIGHT = datetime(2026, 11, 29, tzinfo=UTC)  # the end of NOW's day


def test_the_default_window_is_the_last_28_days_against_the_28_before() -> None:
    f = parse()
    # Whole UTC days, today included, as the roll-ups and heat_scorecard count them.
    assert (f.since, f.until) == (MIDNIGHT - timedelta(days=28), MIDNIGHT)
    assert f.previous_since == MIDNIGHT - timedelta(days=56)
    assert f.query() == {}


@pytest.mark.parametrize(("text", "days"), [("28d", 28), ("4w", 28), ("1d", 1), ("90d", 90)])
def test_since_takes_a_duration_back_from_now(text: str, days: int) -> None:
    f = parse(since=text)
    assert (f.since, f.until) == (MIDNIGHT - timedelta(days=days), MIDNIGHT)


def test_since_and_until_take_iso_dates_and_date_times() -> None:
    f = parse(since="2026-11-01", until="2026-11-15")
    assert (f.since, f.until) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 15, tzinfo=UTC),
    )
    assert f.previous_since == datetime(2026, 10, 18, tzinfo=UTC)
    # A time of day moves the window to whole days: it ends at the midnight after
    # `until` and keeps its length, rounded up to days (13.7 days: 14).
    f = parse(since="2026-11-01T12:00:00Z", until="2026-11-15T06:00:00+01:00")
    assert (f.since, f.until) == (
        datetime(2026, 11, 2, tzinfo=UTC),
        datetime(2026, 11, 16, tzinfo=UTC),
    )


def test_links_keep_the_window_as_written_and_the_narrowing() -> None:
    f = parse(period="7d", repository="octo/a", kind="deploy")
    assert f.since == MIDNIGHT - timedelta(days=7)
    assert f.query() == {"period": "7d", "repository": "octo/a", "kind": "deploy"}
    assert f.query(kind=None) == {"period": "7d", "repository": "octo/a"}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"period": "a month"}, "period"),
        ({"period": "12h"}, "period"),
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


def test_periods_are_written_the_way_the_filters_take_them() -> None:
    assert format_period(timedelta(days=28)) == "28d"


# Fixed dates here are the point: the edges of the calendar Python's datetime can hold.
@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"since": "0001-01-01"}, "since"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ({"since": "0001-01-02", "until": "0001-01-20"}, "until"),
        ({"until": "0001-01-20", "period": "7d"}, "until"),
        ({"until": "9999-12-31"}, "until"),
        ({"until": "9999-12-31T23:00:00-05:00"}, "until"),
        ({"since": "9999-12-01", "until": "9999-12-31"}, "until"),
        ({"since": "9999-12-01"}, "since"),
        ({"since": "1969-12-31"}, "since"),
    ],
)
def test_dates_at_the_edges_of_the_calendar_are_named_not_overflowed(
    params: dict[str, str], parameter: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse(**params)
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    "params",
    [
        {"period": "\uff12\uff18d"},  # fullwidth digits
        {"period": "\u0662\u0668d"},  # Arabic-Indic digits
        {"since": "\uff12\uff18d"},
        {"until": "\uff17d"},
        {"period": "28d\u200b"},  # a zero-width space is not whitespace to strip
    ],
)
def test_only_ascii_digits_are_digits(params: dict[str, str]) -> None:
    with pytest.raises(FilterError) as caught:
        parse(**params)
    assert caught.value.parameter == next(iter(params))


def test_the_epoch_and_a_year_ahead_are_the_bounds() -> None:
    f = parse(since="1970-01-01", until="1970-01-29")
    assert f.since == datetime(1970, 1, 1, tzinfo=UTC)
    f = parse(since="2027-11-01", until="2027-11-28")
    assert f.until == datetime(2027, 11, 28, tzinfo=UTC)
