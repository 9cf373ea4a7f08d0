"""Tests the pull-request summary arithmetic and its verdict with plain data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heatmeter.summary.history import FAILING, FIXED, FLAKY, PASSING, PENDING, read_history
from heatmeter.summary.metrics import (
    RECENT_DURATIONS_LIMIT,
    RunSample,
    TaskSummary,
    attempts_to_first_success,
    delta_pct,
    success_rate,
    summarize_task,
)
from heatmeter.summary.stats import ON_PAR, SLOWER
from heatmeter.summary.verdict import verdict

from .summaries import T0, runs

STEADY = (1000, 1010, 990, 1005, 995, 1000, 1002, 998)  # n=8, a ±10 % floor band


def summary(
    task: str = "deploy",
    *,
    pr: tuple[tuple[str | None, int | None], ...] = (("success", 1000),),
    baseline: tuple[int, ...] = (),
    baseline_outcomes: tuple[str, ...] = (),
    min_baseline_runs: int = 5,
) -> TaskSummary:
    return summarize_task(
        task, "deploy", runs(*pr), baseline, baseline_outcomes,
        min_baseline_runs=min_baseline_runs,
    )  # fmt: skip


def sample(i: int, outcome: str | None, *, sha: str | None, attempt: int = 1, run_id: int = 0):
    return RunSample(
        run_id=run_id or 100 + i, run_attempt=attempt, outcome=outcome, duration_ms=1000,
        started_at=T0 + timedelta(minutes=i), url=None, sha=sha,
    )  # fmt: skip


# success rate


def test_success_rate_leaves_cancelled_and_skipped_out_of_the_denominator():
    outcomes = ["success", "success", "failure", "timed_out", "cancelled", "skipped", None]
    assert success_rate(outcomes) == pytest.approx(2 / 4)


def test_success_rate_is_none_without_a_decisive_run():
    assert success_rate(["cancelled", "skipped", None]) is None
    assert success_rate([]) is None


def test_delta_pct_compares_with_the_baseline():
    assert delta_pct(120, 100) == pytest.approx(20)
    assert delta_pct(100, 0) is None


# attempts to first success


def test_attempts_to_first_success_counts_finished_attempts_in_time_order():
    samples = runs(("failure", 1), ("cancelled", 1), ("success", 1), ("failure", 1))
    assert attempts_to_first_success(list(reversed(samples))) == 3


def test_attempts_to_first_success_counts_re_runs_and_new_pushes_alike():
    samples = [
        sample(0, "failure", sha="a", run_id=5),
        sample(1, "failure", sha="a", run_id=5, attempt=2),  # re-run of the same run
        sample(2, "success", sha="b", run_id=6),  # a new push
    ]
    assert attempts_to_first_success(samples) == 3


def test_attempts_to_first_success_skips_running_and_skipped_runs():
    assert attempts_to_first_success(runs((None, None), ("skipped", 0), ("success", 5))) == 1
    assert attempts_to_first_success(runs(("failure", 1), ("timed_out", 9))) is None


# failing, flaky, fixed


@pytest.mark.parametrize(
    ("spec", "status", "flaky_commits"),
    [
        ([("a", "success")], PASSING, 0),
        ([("a", "failure")], FAILING, 0),
        ([("a", "failure"), ("a", "success")], FLAKY, 1),  # re-run of one commit passed
        ([("a", "timed_out"), ("a", "cancelled"), ("a", "success")], FLAKY, 1),
        ([("a", "failure"), ("b", "success")], FIXED, 0),  # a newer commit passed
        ([("a", "success"), ("b", "failure")], FAILING, 0),
        ([("a", "failure"), ("a", "success"), ("b", "failure")], FAILING, 1),
        ([("a", "failure"), ("a", "success"), ("b", "success")], FLAKY, 1),
        ([("a", "success"), ("a", "failure")], FAILING, 0),  # passed, then failed a re-run
        ([("a", "failure"), ("b", None)], PENDING, 0),  # the new push is still running
        ([("a", "failure"), ("b", "cancelled")], PENDING, 0),
        # A re-run of an old commit does not make it the latest commit.
        ([("a", "failure"), ("b", "success"), ("a", "failure")], FIXED, 0),
        ([], None, 0),
    ],
)
def test_history_reads_runs_by_commit(spec, status, flaky_commits):
    samples = [sample(i, outcome, sha=sha) for i, (sha, outcome) in enumerate(spec)]
    history = read_history(samples)
    assert history.status == status
    assert history.flaky_commits == flaky_commits


def test_runs_without_a_sha_are_their_own_commit_with_their_re_runs():
    flaky = [sample(0, "failure", sha=None, run_id=9), sample(1, "success", sha=None, run_id=9,
                                                             attempt=2)]  # fmt: skip
    assert read_history(flaky).status == FLAKY
    fixed = [sample(0, "failure", sha=None, run_id=9), sample(1, "success", sha=None, run_id=10)]
    assert read_history(fixed).status == FIXED


# summarize_task


def test_summarize_task_counts_outcomes_and_rates():
    s = summary(
        pr=(("failure", 4000), ("success", 2000), ("cancelled", 100), ("skipped", 0),
            ("timed_out", 9000), ("success", 3000), (None, None)),
        baseline=(1000, 2000, 3000, 2000, 2000),
        baseline_outcomes=("success",) * 4 + ("failure", "cancelled"),
    )  # fmt: skip
    counts = (s.runs, s.success, s.failure, s.cancelled, s.timed_out, s.skipped, s.running)
    assert counts == (7, 2, 1, 1, 1, 1, 1)
    assert s.failed == 2
    assert s.success_rate == pytest.approx(2 / 4)
    assert s.baseline_success_rate == pytest.approx(4 / 5)
    assert s.attempts_to_first_success == 2
    # Only success / failure / timed_out durations: 2000, 3000, 4000, 9000.
    assert s.p50_ms == pytest.approx(3500)
    assert s.p90_ms == pytest.approx(7500)
    assert s.baseline_p50_ms == pytest.approx(2000)
    assert s.baseline_runs == 5
    assert s.comparison.verdict == SLOWER
    assert s.delta_pct == pytest.approx(75)
    assert s.recent_durations_ms == (4000, 2000, 9000, 3000)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_below_five_default_branch_runs_there_is_no_baseline(n: int):
    s = summary(pr=(("success", 2000),), baseline=STEADY[:n], baseline_outcomes=("success",) * n)
    assert s.baseline_p50_ms is None
    assert s.comparison.verdict is None
    assert s.delta_pct is None
    assert s.baseline_success_rate is None
    assert s.baseline.runs_needed == 5 - n


def test_five_default_branch_runs_make_a_baseline():
    s = summary(pr=(("success", 2000),), baseline=STEADY[:5], baseline_outcomes=("success",) * 5)
    assert s.baseline_p50_ms == 1000
    assert s.comparison.verdict == SLOWER
    assert s.baseline_success_rate == 1.0


def test_the_minimum_is_a_parameter():
    s = summary(pr=(("success", 2000),), baseline=(1000,), min_baseline_runs=1)
    assert s.comparison.verdict == SLOWER


def test_a_difference_within_the_band_is_on_par_without_a_delta():
    s = summary(pr=(("success", 1050),), baseline=STEADY)
    assert s.comparison.verdict == ON_PAR
    assert s.delta_pct is None
    assert s.comparison.band_ms == pytest.approx(100)


def test_unmeasured_runs_count_in_outcomes_not_in_durations():
    s = summary(pr=(("success", 1000), ("failure", None), ("success", 3000)))
    assert (s.runs, s.failure, s.unmeasured) == (3, 1, 1)
    assert s.p50_ms == 2000  # of 1000 and 3000 only


def test_summarize_task_orders_retries_of_one_run_by_attempt():
    first = RunSample(5, 1, "failure", 10, T0, "https://github.com/o/r/actions/runs/5/attempts/1")
    second = RunSample(5, 2, "success", 20, T0, "https://github.com/o/r/actions/runs/5/attempts/2")
    s = summarize_task("deploy", "deploy", [second, first], [], [])
    assert s.latest_outcome == "success"
    assert s.attempts_to_first_success == 2
    assert s.history.status == FLAKY


def test_summarize_task_without_runs():
    s = summarize_task("deploy", "deploy", [], STEADY, ["success"] * 8)
    assert s.runs == 0
    assert s.latest_outcome is None
    assert s.p50_ms is None
    assert s.comparison.verdict is None
    assert s.history.status is None


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
        baseline=STEADY,
        baseline_outcomes=("success",) * 20,
    )
    line = verdict([s])
    assert "faster but less reliable" in line.lower()
    assert "at least as reliable" not in line
    assert line.startswith("⚠️")


def test_verdict_flags_slower():
    s = summary(pr=(("success", 1500),), baseline=STEADY, baseline_outcomes=("success",) * 8)
    line = verdict([s])
    assert line.startswith("⚠️")
    assert clauses(line)[0] == "slower than the default branch: deploy (+50 %)"


def test_verdict_flags_less_reliable_at_the_same_speed():
    s = summary(
        pr=(("failure", 1000), ("success", 1000)),
        baseline=STEADY,
        baseline_outcomes=("success",) * 9,
    )
    assert clauses(verdict([s]))[0] == (
        "less reliable than the default branch: deploy (50 % vs 100 % success)"
    )


def test_a_baseline_success_rate_below_the_minimum_is_no_evidence():
    s = summary(pr=(("failure", 1000), ("success", 1000)), baseline_outcomes=("success",) * 4)
    assert "less reliable" not in verdict([s])


def test_verdict_praises_faster_and_as_reliable():
    s = summary(
        pr=(("success", 700), ("success", 800)),
        baseline=STEADY,
        baseline_outcomes=("success", "success", "failure", "success", "success"),
    )
    line = verdict([s])
    assert line.startswith("✅")
    assert clauses(line) == [
        "faster and at least as reliable as the default branch: deploy (-25 %)",
        "1 task, no failures",
    ]


def test_verdict_on_par_within_the_band():
    s = summary(pr=(("success", 1080),), baseline=STEADY, baseline_outcomes=("success",) * 8)
    line = verdict([s])
    assert line.startswith("✅")
    assert clauses(line)[0] == "on par with the default branch (p50 within its usual spread)"


def test_verdict_with_too_few_default_branch_runs_says_how_many_more():
    s = summary(pr=(("success", 1000), (None, None)), baseline=(1000, 1100))
    line = verdict([s])
    assert line.startswith("ℹ️")  # noqa: RUF001 - the information emoji
    assert clauses(line) == [
        "too few default-branch runs to compare with yet: deploy (3 more runs)",
        "1 task, no failures so far",
    ]


def test_one_default_branch_run_is_not_a_baseline():
    # The case: a single earlier run used to give a Δ % and "slower".
    s = summary(pr=(("success", 2000),), baseline=(1000,), baseline_outcomes=("success",))
    line = verdict([s])
    assert "slower" not in line
    assert "%" not in line
    assert "4 more runs" in line


def test_failing_means_the_latest_run_on_the_latest_commit_failed():
    s = summary(pr=(("success", 1000), ("timed_out", 1000)))
    line = verdict([s])
    assert line.startswith("⚠️")
    assert "failing on this PR: deploy (the latest run failed; 1 of 2 runs failed)" in line


def test_a_task_that_failed_then_passed_on_the_same_commit_is_flaky_not_failing():
    flaky = summarize_task("deploy", "deploy", [sample(0, "failure", sha="a"),
                                                 sample(1, "success", sha="a")], [])  # fmt: skip
    line = verdict([flaky])
    assert "failing" not in line
    assert "🔁 flaky: deploy (failed, then passed on the same commit; 2 attempts" in line
    assert line.endswith("1 task, passing on the latest commit.")
    assert not line.startswith("⚠️")


def test_a_task_fixed_by_a_later_commit_is_not_failing():
    fixed = summarize_task("deploy", "deploy", [sample(0, "failure", sha="a"),
                                                 sample(1, "success", sha="b")], [])  # fmt: skip
    line = verdict([fixed])
    assert "failing" not in line
    assert "fixed by a later commit: deploy (2 attempts to the first success)" in line


def test_verdict_limits_the_names_it_lists():
    many = [summary(f"t{i}", pr=(("failure", 1),)) for i in range(6)]
    line = verdict(many)
    assert "t2 (the latest run failed; 1 of 1 run failed), and 3 more" in line
    assert "t5" not in line


def test_verdict_uses_the_names_it_is_given():
    s = summary("a*b", pr=(("failure", 1),))
    assert "failing on this PR: A\\*B (" in verdict([s], name=lambda s: s.task.upper().replace(
        "*", "\\*"))  # fmt: skip


def test_verdict_mixes_tasks_with_and_without_baseline():
    with_baseline = summary("deploy", pr=(("success", 1000),), baseline=STEADY)
    without = summary("scaffold", pr=(("success", 1000),))
    assert clauses(verdict([with_baseline, without])) == [
        "on par with the default branch (p50 within its usual spread)",
        "not compared yet: scaffold (5 more runs)",
        "2 tasks, no failures",
    ]


def test_verdict_without_tasks():
    assert "no platform tasks" in verdict([]).lower()
