"""A finished job's steps as task runs, and its queue time (pure, on the real payload)."""

from __future__ import annotations

from datetime import UTC, datetime

from heatmeter.jobs.model import job_from_payload
from heatmeter.jobs.steps import is_self_hosted, queue_time, step_runs
from heatmeter.tasks.definitions import define_task

from .webhooks import payload

FIXTURE = "workflow_job.completed.success.with-organization"


def fixture_job(**changes):
    data = payload(FIXTURE)
    data["workflow_job"].update(changes)
    return job_from_payload(data["repository"]["full_name"], data["workflow_job"])


def test_the_real_payload_reads_as_a_job() -> None:
    job = fixture_job()
    assert (job.id, job.run_id, job.run_attempt, job.name) == (289782451, 2202229078, 1, "linters")
    assert job.workflow == "CodeQL"
    assert job.labels == ("ubuntu-latest",)
    assert [s.name for s in job.steps][:3] == ["Set up job", "Checkout Repo", "Install Ruby"]
    assert job.steps[3].started_at == datetime(2021, 8, 5, 10, 26, 15, tzinfo=UTC)


def test_matching_steps_become_task_runs_with_second_resolution() -> None:
    lint = define_task("lint", kind="other", step="Run *")
    ruby = define_task("ruby", kind="provisioning", step=r"Install (Ruby|Node)", regex=True)
    runs = step_runs(fixture_job(), [lint, ruby])
    assert [(r.task, r.step_name, r.duration_ms, r.outcome) for r in runs] == [
        ("ruby", "Install Ruby", 4000, "success"),
        ("lint", "Run Rubocop", 6000, "success"),
        ("lint", "Run Brakeman", 4000, "success"),
        ("lint", "Run Bundle Audit", 1000, "success"),
    ]
    assert runs[1].step_id == "job:289782451/step:4"
    assert runs[1].kind == "other"


def test_no_definition_or_a_filtered_one_means_no_task_runs() -> None:
    assert step_runs(fixture_job(), []) == []
    elsewhere = define_task("lint", kind="other", step="Run *", repository="other-org/*")
    other_workflow = define_task("lint", kind="other", step="Run *", workflow="CD")
    nothing_named = define_task("deploy", kind="deploy", step="Deploy *")
    assert step_runs(fixture_job(), [elsewhere, other_workflow, nothing_named]) == []


def test_step_outcomes_and_steps_that_never_ran() -> None:
    steps = [
        {"name": "Deploy a", "number": 1, "status": "completed", "conclusion": "failure",
         "started_at": "2021-08-05T10:35:00Z", "completed_at": "2021-08-05T10:35:30Z"},
        {"name": "Deploy b", "number": 2, "status": "completed", "conclusion": "skipped",
         "started_at": None, "completed_at": None},
        # Still running when the job was cancelled: no conclusion of its own.
        {"name": "Deploy c", "number": 3, "status": "in_progress", "conclusion": None,
         "started_at": "2021-08-05T10:36:00Z", "completed_at": None},
        # Never reached.
        {"name": "Deploy d", "number": 4, "status": "queued", "conclusion": None,
         "started_at": None, "completed_at": None},
    ]  # fmt: skip
    job = fixture_job(steps=steps, conclusion="cancelled")
    runs = step_runs(job, [define_task("deploy", kind="deploy", step="Deploy *")])
    by_step = {r.step_name: r for r in runs}
    assert set(by_step) == {"Deploy a", "Deploy b", "Deploy c"}
    assert (by_step["Deploy a"].outcome, by_step["Deploy a"].duration_ms) == ("failure", 30_000)
    # Skipped: dated by its job, no duration.
    assert by_step["Deploy b"].outcome == "skipped"
    assert by_step["Deploy b"].started_at == job.started_at
    assert by_step["Deploy b"].duration_ms is None
    # Cut short: ended with its job, outcome the job's, no duration on two clocks.
    assert by_step["Deploy c"].outcome == "cancelled"
    assert by_step["Deploy c"].finished_at == job.completed_at
    assert by_step["Deploy c"].duration_ms is None
    timed_out = fixture_job(steps=steps[2:3], conclusion="timed_out")
    [run] = step_runs(timed_out, [define_task("deploy", kind="deploy", step="Deploy *")])
    assert run.outcome == "timed_out"


def test_queue_time_is_created_to_started() -> None:
    waited = queue_time(fixture_job())
    assert waited is not None
    assert waited.queue_ms == 60_000  # created 10:33:58, started 10:34:58
    assert waited.self_hosted is False


def test_a_job_that_never_got_a_runner_has_no_queue_time() -> None:
    waited = queue_time(fixture_job(runner_name=None, conclusion="cancelled"))
    assert waited is not None
    assert (waited.queue_ms, waited.self_hosted) == (None, None)
    assert queue_time(fixture_job(created_at=None, started_at=None, completed_at=None)) is None


def test_self_hosted_runners_are_told_from_githubs() -> None:
    def job(labels, group, runner):
        return fixture_job(labels=labels, runner_group_name=group, runner_name=runner)

    assert not is_self_hosted(job(["ubuntu-latest"], "GitHub Actions", "GitHub Actions 5"))
    assert is_self_hosted(job(["self-hosted", "linux"], "Default", "build-01"))
    assert is_self_hosted(job(["Self-Hosted"], None, "build-01"))
    # An Actions Runner Controller scale set is asked for by its own name.
    assert is_self_hosted(job(["arc-linux"], "Default", "arc-linux-abcde"))
    assert not is_self_hosted(job(["ubuntu-latest"], None, "GitHub Actions 12"))
