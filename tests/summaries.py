"""Plain-data task runs for the summary tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heatmeter.summary.metrics import RunSample

# A fixed date: the comment's arithmetic and rendering are pure, and read no window.
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def runs(
    *spec: tuple[str | None, int | None], url: str | None = "auto", sha: str | None = None
) -> list[RunSample]:
    """Runs one minute apart, in the order given, as (outcome, duration_ms) pairs.

    Each run is its own commit unless ``sha`` puts them all on one.
    """
    return [
        RunSample(
            run_id=100 + i,
            run_attempt=1,
            outcome=outcome,
            duration_ms=duration,
            started_at=T0 + timedelta(minutes=i),
            url=f"https://github.com/o/r/actions/runs/{100 + i}" if url == "auto" else url,
            sha=sha,
        )
        for i, (outcome, duration) in enumerate(spec)
    ]
