"""Tests the pull-request summary arithmetic with plain data."""

from __future__ import annotations

import pytest

from heatmeter.summary.metrics import (
    ON_PAR_PCT,
    RECENT_DURATIONS_LIMIT,
    RunSample,
    TaskSummary,
    attempts_to_first_success,
    delta_pct,
    percentile,
    success_rate,
    summarize_task,
    verdict,
)

from .summaries import T0, runs


def summary(
    task: str = "deploy",
    *,
    pr: tuple[tuple[str | None, int | None], ...] = (("success", 1000),),
    baseline: tuple[int, ...] = (),
    baseline_outcomes: tuple[str, ...] = (),
) -> TaskSummary:
    return summarize_task(task, "deploy", runs(*pr), baseline, baseline_outcomes)


# percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([10, 20, 30, 40, 50], 90, 46),
        ([7], 90, 7),
        ([3, 1, 2], 50, 2),
        ([0, 100], 25, 25),
    ],
)
def test_percentile_interpolates_linearly(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_q_outside_0_to_100(q):
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1, 2], q)


# success rate


def test_success_rate_leaves_cancelled_and_skipped_out_of_the_denominator():
    outcomes = ["success", "success", "failure", "timed_out", "cancelled", "skipped", None]
    assert success_rate(outcomes) == pytest.approx(2 / 4)


def test_success_rate_is_none_without_a_decisive_run():
    assert success_rate(["cancelled", "skipped", None]) is None
    assert success_rate([]) is None


def test_success_rate_counts_timed_out_as_not_a_success():
    assert success_rate(["timed_out", "success"]) == pytest.approx(0.5)


# delta


def test_delta_pct_compares_with_the_baseline():
    assert delta_pct(120, 100) == pytest.approx(20)
    assert delta_pct(75, 100) == pytest.approx(-25)


@pytest.mark.parametrize(("value", "baseline"), [(None, 100), (100, None), (100, 0)])
def test_delta_pct_is_none_without_a_usable_baseline(value, baseline):
    assert delta_pct(value, baseline) is None


# attempts to first success


def test_attempts_to_first_success_counts_finished_attempts_in_time_order():
    samples = runs(("failure", 1), ("cancelled", 1), ("success", 1), ("failure", 1))
    assert attempts_to_first_success(list(reversed(samples))) == 3


def test_attempts_to_first_success_skips_running_and_skipped_runs():
    assert attempts_to_first_success(runs((None, None), ("skipped", 0), ("success", 5))) == 1


def test_attempts_to_first_success_is_none_without_a_success():
    assert attempts_to_first_success(runs(("failure", 1), ("timed_out", 9))) is None


# summarize_task


def test_summarize_task_counts_outcomes_and_rates():
    s = summary(
        pr=(
            ("failure", 4000),
            ("success", 2000),
            ("cancelled", 100),
            ("skipped", 0),
            ("timed_out", 9000),
            ("success", 3000),
            (None, None),
        ),
        baseline=(1000, 2000, 3000),
        baseline_outcomes=("success", "success", "success", "failure", "cancelled"),
    )
    assert (s.runs, s.success, s.failure, s.cancelled, s.timed_out, s.skipped, s.running) == (
        7,
        2,
        1,
        1,
        1,
        1,
        1,
    )
    assert s.failed == 2
    assert s.success_rate == pytest.approx(2 / 4)
    assert s.baseline_success_rate == pytest.approx(3 / 4)
    assert s.attempts_to_first_success == 2
    # Only success / failure / timed_out durations: 2000, 3000, 4000, 9000.
    assert s.p50_ms == pytest.approx(3500)
    assert s.p90_ms == pytest.approx(7500)
    assert s.baseline_p50_ms == pytest.approx(2000)
    assert s.baseline_runs == 3
    assert s.delta_pct == pytest.approx(75)
    assert s.recent_durations_ms == (4000, 2000, 9000, 3000)


def test_summarize_task_latest_is_the_most_recent_run_even_if_still_running():
    samples = runs(("success", 1000), (None, None))
    s = summarize_task("deploy", "deploy", list(reversed(samples)), [], [])
    assert s.latest_outcome is None
    assert s.latest_duration_ms is None
    assert s.latest_url == samples[-1].url


def test_summarize_task_orders_retries_of_one_run_by_attempt():
    first = RunSample(5, 1, "failure", 10, T0, "https://github.com/o/r/actions/runs/5/attempts/1")
    second = RunSample(5, 2, "success", 20, T0, "https://github.com/o/r/actions/runs/5/attempts/2")
    s = summarize_task("deploy", "deploy", [second, first], [], [])
    assert s.latest_outcome == "success"
    assert s.attempts_to_first_success == 2


def test_summarize_task_without_history_has_no_baseline():
    s = summary(pr=(("success", 1000),))
    assert s.baseline_p50_ms is None
    assert s.delta_pct is None
    assert s.baseline_success_rate is None
    assert s.baseline_runs == 0


def test_summarize_task_without_runs():
    s = summarize_task("deploy", "deploy", [], [1000], ["success"])
    assert s.runs == 0
    assert s.latest_outcome is None
    assert s.p50_ms is None
    assert s.delta_pct is None
    assert s.success_rate is None
    assert s.attempts_to_first_success is None


def test_summarize_task_keeps_only_the_recent_durations_for_the_chart():
    n = RECENT_DURATIONS_LIMIT + 5
    s = summary(pr=tuple(("success", ms) for ms in range(n)))
    assert s.recent_durations_ms == tuple(range(5, n))


# verdict


def clauses(line: str) -> list[str]:
    """The verdict's clauses, without its icon, capital and full stop."""
    body = line.split(" ", 1)[1].removesuffix(".")
    return [clause[0].lower() + clause[1:] for clause in body.split("; ")]


def test_verdict_flags_faster_but_less_reliable_and_does_not_praise_it():
    s = summary(
        pr=(("failure", 500), ("success", 600), ("failure", 550)),
        baseline=(1000,) * 10,
        baseline_outcomes=("success",) * 20,
    )
    line = verdict([s])
    assert "faster but less reliable" in line.lower()
    assert "at least as reliable" not in line
    assert "✅" not in line
    assert "deploy" in line


def test_verdict_flags_faster_with_failures_even_when_baseline_rate_is_unknown():
    s = summary(pr=(("failure", 500), ("success", 600)), baseline=(1000,) * 10)
    line = verdict([s])
    assert line.startswith("⚠️")
    assert "failing on this PR: deploy (1 of 2)" in line


def test_verdict_flags_slower():
    s = summary(pr=(("success", 1500),), baseline=(1000,), baseline_outcomes=("success",))
    line = verdict([s])
    assert line.startswith("⚠️")
    assert clauses(line)[0] == "slower than the default branch: deploy (+50 %)"


def test_verdict_flags_less_reliable_at_the_same_speed():
    s = summary(
        pr=(("failure", 1000), ("success", 1000)),
        baseline=(1000,),
        baseline_outcomes=("success",) * 9,
    )
    assert clauses(verdict([s]))[0] == (
        "less reliable than the default branch: deploy (50 % vs 100 % success)"
    )


def test_verdict_praises_faster_and_as_reliable():
    s = summary(
        pr=(("success", 700), ("success", 800)),
        baseline=(1000,) * 5,
        baseline_outcomes=("success", "success", "failure"),
    )
    line = verdict([s])
    assert line.startswith("✅")
    assert clauses(line) == [
        "faster and at least as reliable as the default branch: deploy (-25 %)",
        "1 task, no failures",
    ]


def test_verdict_on_par_within_threshold():
    ms = int(1000 * (1 + ON_PAR_PCT / 100)) - 10  # just inside the threshold
    s = summary(pr=(("success", ms),), baseline=(1000,), baseline_outcomes=("success",))
    line = verdict([s])
    assert line.startswith("✅")
    assert clauses(line)[0] == "on par with the default branch (p50 within ±10 %)"


def test_verdict_without_baseline_is_neutral():
    s = summary(pr=(("success", 1000), (None, None)))
    line = verdict([s])
    assert line.startswith("ℹ️")  # noqa: RUF001 - the information emoji
    assert "no baseline" in line.lower()
    assert "faster" not in line
    assert "slower" not in line
    assert "no failures so far" in line


def test_verdict_without_baseline_still_names_failures():
    s = summary(pr=(("timed_out", 1000),))
    line = verdict([s])
    assert line.startswith("⚠️")
    assert "no baseline" in line.lower()
    assert "failing on this PR: deploy (1 of 1)" in line


def test_verdict_names_failures_alongside_praise():
    s = summary(
        pr=(("failure", 500),) + (("success", 500),) * 9,
        baseline=(1000,),
        baseline_outcomes=("success", "failure"),
    )
    line = verdict([s])
    assert clauses(line) == [
        "faster and at least as reliable as the default branch: deploy (-50 %)",
        "failing on this PR: deploy (1 of 10)",
    ]
    assert line.startswith("⚠️")


def test_verdict_limits_the_names_it_lists():
    many = [summary(f"t{i}", pr=(("failure", 1),)) for i in range(6)]
    line = verdict(many)
    assert "t0 (1 of 1), t1 (1 of 1), t2 (1 of 1), and 3 more" in line
    assert "t5" not in line


def test_verdict_mixes_tasks_with_and_without_baseline():
    with_baseline = summary("deploy", pr=(("success", 1000),), baseline=(1000,))
    without = summary("scaffold", pr=(("success", 1000),))
    line = verdict([with_baseline, without])
    assert clauses(line) == [
        "on par with the default branch (p50 within ±10 %)",
        "no baseline yet for 1 task",
        "2 tasks, no failures",
    ]


def test_verdict_without_tasks():
    assert "no platform tasks" in verdict([]).lower()
