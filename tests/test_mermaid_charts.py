"""Every chart the comment emits, parsed by Mermaid 11 itself (node, tests/js/).

`make test` installs tests/js's locked packages with `npm ci`. Without node or those
packages this test fails, saying what is missing: a chart check that silently skips
would let a broken chart through.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from heatmeter.summary.metrics import RunSample, TaskSummary, summarize_task
from heatmeter.summary.render import render_summary

from .summaries import T0
from .test_summary_render import HOSTILE_NAMES

CHECKER = Path(__file__).parent / "js" / "check_mermaid.mjs"
FENCE = re.compile(r"```mermaid\n(.*?)\n```", flags=re.DOTALL)


def mermaid(charts: list[str]) -> list[dict[str, Any]]:
    """What Mermaid 11 made of each chart: {ok, error} and, for xy charts, its axes."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the Mermaid chart check needs node 18+ and npm")
    if not (CHECKER.parent / "node_modules" / "mermaid").is_dir():
        pytest.fail("tests/js has no node_modules: run `npm ci --prefix tests/js` (make test does)")
    done = subprocess.run(
        [node, str(CHECKER)], input=json.dumps(charts), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    if not done.stdout:
        pytest.fail(f"the Mermaid check crashed (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def task(name: str, durations: list[int], baseline: tuple[int, ...] = (), **kw) -> TaskSummary:
    samples = [
        RunSample(100 + i, 1, "success", ms, T0 + timedelta(seconds=20 * i), None, "a" * 40)
        for i, ms in enumerate(durations)
    ]
    return summarize_task(name, "deploy", samples, baseline, ("success",) * len(baseline), **kw)


CASES = {
    "milliseconds against a baseline": task("deploy", [400, 900, 420, 410], (405,) * 8),
    "seconds without a baseline": task("scaffold", [4_200, 61_000, 3_900]),
    "minutes": task("provision", [700_000, 900_000], (650_000,) * 5),
    "twenty runs": task("lint", [1000 + 37 * i for i in range(25)], (1100,) * 6),
    "all zero": task("noop", [0, 0, 0]),
    "on Windows": task("deploy", [400, 500], runner_os="Windows"),
    **{f"hostile name {i}": task(name, [400, 500, 600]) for i, name in enumerate(HOSTILE_NAMES)},
}


def charts_of(summary: TaskSummary) -> list[str]:
    body = render_summary([summary], repository="o/r", pull_request=1, updated_at=T0)
    return FENCE.findall(body)


def test_every_chart_the_comment_emits_parses_in_mermaid_11() -> None:
    sources = [chart for summary in CASES.values() for chart in charts_of(summary)]
    assert len(sources) == len(CASES)
    results = mermaid(sources)
    for name, source, result in zip(CASES, sources, results, strict=True):
        assert result["ok"], f"{name}: Mermaid refused the chart: {result}\n{source}"
        assert result["type"] == "xychart"


def test_mermaid_reads_an_axis_from_zero_and_one_label_per_run() -> None:
    summary = CASES["milliseconds against a baseline"]
    [result] = mermaid(charts_of(summary))
    assert result["yMin"] == 0
    assert result["yMax"] >= max(summary.recent_durations_ms)
    # Labels say when each run started; runs in one minute still get one bar each.
    assert result["categories"] == ["03-01 12:00", "03-01 12:00 (2)", "03-01 12:00 (3)",
                                    "03-01 12:01"]  # fmt: skip
    bars, line = result["series"]
    assert bars == {"type": "bar", "values": [400, 900, 420, 410]}
    assert line == {"type": "line", "values": [405] * 4}


def test_the_check_itself_fails_on_a_broken_chart() -> None:
    broken = 'xychart-beta\n    x-axis ["a", "b"\n    bar [1, 2]'
    [result] = mermaid([broken])
    assert not result["ok"]
    assert "Parse error" in result["error"]
