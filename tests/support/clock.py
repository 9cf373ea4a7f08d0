"""Moments relative to heatmeter's clock, for tests whose data meets a rolling window.

The suite also runs with the clock moved a year either way (HEATMETER_CLOCK_OFFSET), so
data a window reads is dated from ``heatmeter.clock.now()``, never from the calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from heatmeter import clock


def ago(**delta: float) -> datetime:
    """This long before heatmeter's now, e.g. ``ago(days=2, hours=3)``."""
    return clock.now() - timedelta(**delta)


def start_of_day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def iso(when: datetime) -> str:
    """RFC 3339 with a Z, as GitHub writes its timestamps."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
