"""Tests the pull-request comment's Markdown, its escaping and its size, with plain data."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from heatmeter.outbox.marker import with_marker
from heatmeter.outbox.sticky import MARKER
from heatmeter.summary.charts import _axis_top, _time_labels
from heatmeter.summary.escape import escape_markdown, escape_mermaid_label, safe_https_url
from heatmeter.summary.metrics import TaskSummary, summarize_task
from heatmeter.summary.render import (
    CHART_TASKS,
    MAX_COMMENT_CHARS,
    OPEN_ROWS,
    TITLE,
    render_summary,
)
from heatmeter.summary.vocabulary import format_duration

from .summaries import T0, runs

INJECTION = "@org/team [x](http://evil)"
HOSTILE_NAMES = (
    INJECTION,
    "a | b || c",
    "line one\nline two\r\nline three",
    "<!-- end --> marker",
    "`code` ```fence",
    '<a href="https://evil">click</a>',
    "fixes #123 and GH-1 and org/repo#9",
    "www.evil.example and mailto:x@y.z",
    '"quoted" ]bracket[ %%{init: {"theme": "dark"}}%%',
    "\u202eright-to-left override",
)
COLUMNS = 11


def task(
    name: str = "deploy",
    kind: str = "deploy",
    *,
    n: int = 3,
    baseline: tuple[int, ...] = (1000, 1100, 1200, 1100, 1050),
    outcome: str = "success",
    url: str | None = "auto",
) -> TaskSummary:
    samples = runs(*((outcome, 900 + 10 * i) for i in range(n)), url=url)
    return summarize_task(name, kind, samples, baseline, ("success",) * len(baseline))


def render(summaries, **kwargs) -> str:
    kwargs.setdefault("repository", "octo/app")
    kwargs.setdefault("pull_request", 42)
    kwargs.setdefault("updated_at", T0)
    return render_summary(summaries, **kwargs)


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]


def outside_code_fences(text: str) -> str:
    """The comment without its charts, nor the rating invitation's own code spans."""
    text = re.sub(r"^How did these tasks feel\?.*$", "", text, flags=re.MULTILINE)
    return re.sub(r"```mermaid\n.*?\n```", "", text, flags=re.DOTALL)


# structure


def test_written_comment_has_the_marker_first_and_once():
    text = with_marker(MARKER, render([task(name="<!-- heatmeter:summary -->")]))
    assert text.splitlines()[0] == MARKER
    assert text.count(MARKER) == 1


def test_row_shows_every_column():
    text = render([task()])
    header, row = table_rows(text)
    assert header.count("|") == COLUMNS + 1
    assert row == (
        "| deploy | deploy | 3 | 3 ✅ | 100 % (base 100 %) | ✅ 920 ms | 910 ms / 918 ms "
        "| 1.1 s, n=5, ±227 ms | on par | 1 | [logs](https://github.com/o/r/actions/runs/102) |"
    )


def test_a_baseline_shows_its_p50_n_and_band_and_within_it_on_par():
    text = render([task(n=3, baseline=(400, 420, 380, 410, 390, 405, 395, 400))])
    row = table_rows(text)[1]
    assert "| 400 ms, n=8, ±40 ms | +127 % |" in row  # p50 910 ms: slower
    on_par = render([task(n=3, baseline=(900, 920, 880, 910, 890, 905, 895, 900))])
    assert "| 900 ms, n=8, ±90 ms | on par |" in table_rows(on_par)[1]


@pytest.mark.parametrize(("n", "more"), [(0, "5 more runs"), (1, "4 more runs"),
                                         (4, "1 more run")])  # fmt: skip
def test_too_little_default_branch_history_says_how_many_more_runs(n: int, more: str):
    text = render([task(baseline=(1000,) * n)])
    assert f"| n={n}, {more} needed | — |" in table_rows(text)[1]
    assert f"deploy ({more})" in text.split("\n\n")[1]
    assert "line [" not in text  # no baseline line on the chart


def test_the_verdict_is_plain_markdown_and_only_names_are_escaped():
    text = render([task("a_b & <c>", baseline=(1000,))])
    line = text.split("\n\n")[1]
    assert line.startswith("ℹ️ Too few default-branch runs to compare with yet: ")  # noqa: RUF001
    assert "a&#95;b &#38; &#60;c&#62; (4 more runs)" in line
    assert "&#" not in line.replace("a&#95;b &#38; &#60;c&#62;", "")


def test_a_flaky_task_is_marked():
    flaky = summarize_task(
        "deploy", "deploy", runs(("failure", 900), ("success", 950), sha="a"), []
    )
    text = render([flaky])
    assert "| 1 ✅ 1 ❌ 🔁 |" in table_rows(text)[1]
    assert "🔁 flaky: deploy" in text.split("\n\n")[1]


def test_runs_without_a_duration_are_counted_and_said():
    summary = summarize_task("deploy", "deploy", runs(("success", 900), ("failure", None)), [])
    text = render([summary])
    assert "| ❌ no duration |" in table_rows(text)[1]
    assert "1 run has no duration" in text


def test_a_task_on_two_runner_systems_is_named_with_each():
    linux = summarize_task("deploy", "deploy", runs(("success", 900)), [], runner_os="Linux")
    windows = summarize_task("deploy", "deploy", runs(("success", 900)), [], runner_os="Windows")
    lone = summarize_task("lint", "other", runs(("success", 900)), [], runner_os="Linux")
    names = [row.split(" | ")[0] for row in table_rows(render([linux, windows, lone]))[1:]]
    assert names == ["| deploy (Linux)", "| deploy (Windows)", "| lint"]


def test_zero_tasks():
    text = render([])
    assert text.startswith(TITLE + "\n")
    assert "No platform tasks have reported" in html.unescape(text)
    assert not table_rows(text)
    assert "mermaid" not in text


def test_thirty_tasks_fold_the_rest_into_details():
    summaries = [task(f"task-{i:02d}", n=1 + i % 5) for i in range(30)]
    text = render(summaries)
    rows = table_rows(text)
    assert len(rows) == 2 + 30  # two headers
    open_part, folded = text.split("<details><summary>", 1)
    assert len(table_rows(open_part)) == 1 + OPEN_ROWS
    assert folded.startswith(f"{30 - OPEN_ROWS} more tasks</summary>")
    assert text.count("```mermaid") == CHART_TASKS
    assert len(text) < MAX_COMMENT_CHARS


def test_tasks_needing_attention_come_first():
    text = render([task("fine"), task("broken", outcome="failure")])
    assert table_rows(text)[1].startswith("| broken |")


def test_chart_shows_recent_durations_from_zero_against_the_baseline():
    text = render([task(n=4, baseline=(2000,) * 5)])
    chart = re.search(r"```mermaid\n(.*?)\n```", text, flags=re.DOTALL).group(1)
    assert chart.splitlines() == [
        "xychart-beta",
        '    title "deploy: last 4 runs vs baseline p50 (s)"',
        '    x-axis "run started (UTC)" '
        '["03-01 12:00", "03-01 12:01", "03-01 12:02", "03-01 12:03"]',
        '    y-axis "s" 0 --> 2.5',
        "    bar [0.90, 0.91, 0.92, 0.93]",
        "    line [2.00, 2.00, 2.00, 2.00]",
    ]


@pytest.mark.parametrize(
    ("peak", "top"),
    [(940, "1000"), (400, "500"), (1, "1.2"), (0.3, "0.4"), (59.9, "80"), (0, "1")],
)
def test_the_y_axis_ends_at_a_round_number_above_the_peak(peak, top):
    assert _axis_top(peak) == top


def test_equal_start_minutes_get_distinct_labels():
    same = [T0, T0 + timedelta(seconds=20), T0 + timedelta(minutes=1)]
    assert _time_labels(same) == ["03-01 12:00", "03-01 12:00 (2)", "03-01 12:01"]


def test_footer_names_the_pull_request_in_utc():
    text = render([], updated_at=datetime(2025, 3, 1, 14, 5, tzinfo=timezone(timedelta(hours=2))))
    assert "Updated 2025-03-01 12:05 UTC for octo&#47;app pull request 42" in text


def test_dashboard_link_only_when_https():
    assert "[dashboard](https://dash.example/pr/42)" in render(
        [], dashboard_url="https://dash.example/pr/42"
    )
    assert "dashboard" not in render([], dashboard_url="http://dash.example/pr/42")


# escaping


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_render_harmlessly(name):
    text = with_marker(MARKER, render([task(name, kind=name), task("deploy")]))
    prose = outside_code_fences(text)
    decoded = html.unescape(prose).replace("\u200b", "")
    # Nothing the user wrote becomes a mention, link, tag, comment or code span ...
    assert "@" not in prose
    assert "](http:" not in prose
    assert "[x]" not in prose
    assert "http://" not in prose
    assert "<a" not in prose
    assert "`" not in prose
    assert prose.count("<!--") == 1
    assert prose.count("-->") == 1
    assert "\u202e" not in text
    # ... or, once GitHub has decoded entities, a mention or reference.
    rendered = html.unescape(prose)
    assert not re.search(r"@[A-Za-z0-9]", rendered)
    assert not re.search(r"#\d", rendered)
    assert not re.search(r"GH-\d", rendered)
    assert not re.search(r"(https?|mailto):/?/?[a-z]", rendered.replace("https://github.com", ""))
    assert not re.search(r"www\.[a-z]", rendered)
    # Yet it still reads as what the user wrote.
    assert " ".join(name.split()).replace("\u202e", "")[:20] in decoded
    # The table keeps its shape: no user "|" or line break splits a cell.
    for row in table_rows(text):
        assert row.count("|") == COLUMNS + 1
    assert len(table_rows(text)) == 3


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_cannot_break_the_mermaid_block(name):
    text = render([task(name, n=5)])
    chart = re.search(r"```mermaid\n(.*?)\n```", text, flags=re.DOTALL).group(1)
    title = chart.splitlines()[1]
    assert title.count('"') == 2
    assert "`" not in chart
    assert "%%" not in chart
    assert len(chart.splitlines()) == 6
    assert text.count("```") == 2


def test_escape_markdown_examples():
    assert escape_markdown("deploy prod") == "deploy prod"
    assert escape_markdown("a|b") == "a&#124;b"
    assert escape_markdown("@org") == "&#64;&#8203;org"
    assert escape_markdown("[x](y)") == "&#91;x&#93;&#40;y&#41;"
    assert escape_markdown("GH-1") == "GH&#45;&#8203;1"
    assert escape_markdown("a\n\tb") == "a b"
    assert escape_markdown("déploiement") == "déploiement"


def test_escape_markdown_decodes_back_to_the_text():
    text = "@org/team [x](http://evil) | <!-- `x` --> #1 &amp; \\*_~"
    assert html.unescape(escape_markdown(text)).replace("\u200b", "") == text


def test_escape_mermaid_label():
    label = escape_mermaid_label('a"b`c]d\ne%%{init}%% #1')
    assert label == "a_b_c_d e___init___ _1"
    assert escape_mermaid_label("x" * 100) == "x" * 39 + "…"


# links


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://github.com/o/r/actions/runs/1",
        "javascript:alert(1)",
        "https://github.com/o/r/actions/runs/1)[x](https://evil",
        "https://user@evil.example/",
        "https://github.com/o/r/actions/runs/1 onmouseover",
        "https://github.com/o/r/actions/runs/1|x",
        "https://github.com/o/r?a=1&lt;b",
        "https:///no-host",
        "https://github.com/" + "a" * 600,
    ],
)
def test_unsafe_urls_are_omitted(url):
    assert safe_https_url(url) is None
    text = render([task(url=url)])
    assert "[logs]" not in text
    assert table_rows(text)[1].endswith("| — |")


def test_safe_url_is_kept():
    url = "https://github.com/o/r/actions/runs/1/job/2?pr=42#step:3:1"
    assert safe_https_url(url) == url


# durations


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, "—"),
        (0, "0 ms"),
        (850, "850 ms"),
        (999.6, "1.0 s"),
        (1234, "1.2 s"),
        (9_949, "9.9 s"),
        (9_950, "10 s"),
        (42_400, "42 s"),
        (59_600, "1 min 00 s"),
        (65_000, "1 min 05 s"),
        (185_000, "3 min 05 s"),
        (3_725_000, "1 h 02 min"),
    ],
)
def test_format_duration(ms, expected):
    assert format_duration(ms) == expected


# size


def test_huge_input_stays_under_the_comment_limit():
    worst_name = "@" * 200  # every character escapes to the longest form
    summaries = [
        task(f"{worst_name}{i}", kind=worst_name, n=25, url=f"https://github.com/{'a' * 400}/{i}")
        for i in range(300)
    ]
    text = render(summaries, dashboard_url="https://dash.example/x")
    assert len(text) <= MAX_COMMENT_CHARS
    assert with_marker(MARKER, text).count(MARKER) == 1
    assert "not shown here" in text
    for row in table_rows(text):
        assert row.count("|") == COLUMNS + 1
    assert text.rstrip().endswith("</sub>")


def test_the_comment_invites_a_rating_with_a_command_to_copy():
    text = render([task("deploy")])
    [line] = [line for line in text.splitlines() if "How did these tasks feel?" in line]
    assert "`/heatmeter rate 4 deploy quick today`" in line
    assert "`/heatmeter rate N`" in line
    assert text.index(line) < text.index("<sub>Updated")
    # No line starts with the command, so the comment is never read as a rating.
    assert not any(line.lstrip().startswith("/heatmeter") for line in text.splitlines())


def test_the_invitation_names_no_task_it_cannot_show_literally():
    text = render([task("@org/team `x`")])
    assert "`/heatmeter rate 4 quick today`" in text
    assert "@org" not in text.split("How did these tasks feel?")[1]
