"""A pull request's task runs and the default branch's baseline they are compared with."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from ..ownership import BASELINE_RUN_CONDITION
from ..summary.links import run_url
from ..summary.metrics import TIMED_OUTCOMES, RunSample, TaskSummary, summarize_task
from ..summary.stats import DEFAULT_MIN_BASELINE_RUNS

# The trailing window a PR's durations are compared with, and how many of its runs.
BASELINE_DAYS = 28
BASELINE_RUNS_PER_TASK = 200

SELECT_PULL_REQUEST = """
SELECT coalesce(default_branch, base_ref) AS default_branch
FROM pull_requests WHERE repository = $1 AND number = $2
"""

# A run closed by the workflow_job webhook keeps its outcome but has no duration: its
# end is GitHub's clock against the runner's start, not a measurement.
MEASURED_DURATION = (
    "CASE WHEN closed_by IS DISTINCT FROM 'workflow_job' THEN duration_ms END AS duration_ms"
)

SELECT_PR_RUNS = f"""
SELECT task, kind, runner_os, run_id, run_attempt, outcome, sha, started_at,
       {MEASURED_DURATION}
FROM task_runs
WHERE repository = $1 AND pull_request = $2
ORDER BY task, started_at
"""  # noqa: S608 - constants only

# Newest default-branch runs of each (task, runner OS) the PR ran, within the window:
# like is compared with like, so a PR's Windows runs meet Windows history only.
SELECT_BASELINE = f"""
SELECT t.task, t.runner_os, b.duration_ms, b.outcome
FROM unnest($3::text[], $4::text[]) AS t(task, runner_os)
CROSS JOIN LATERAL (
    SELECT {MEASURED_DURATION}, outcome FROM task_runs
    WHERE repository = $1 AND task = t.task AND runner_os IS NOT DISTINCT FROM t.runner_os
      AND {BASELINE_RUN_CONDITION.format(ref="$2")}
      AND outcome IS NOT NULL
      AND started_at >= heatmeter_now() - make_interval(days => $5)
    ORDER BY started_at DESC
    LIMIT $6
) AS b
"""  # noqa: S608 - constants only


async def load_summaries(
    conn: asyncpg.Connection,
    repository: str,
    pull_request: int,
    *,
    web_url: str,
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS,
) -> list[TaskSummary]:
    """One summary per task and runner OS the PR ran, against the default branch's history."""
    runs: dict[tuple[str, str | None], list[RunSample]] = defaultdict(list)
    kinds: dict[tuple[str, str | None], str] = {}
    for row in await conn.fetch(SELECT_PR_RUNS, repository, pull_request):
        key = (row["task"], row["runner_os"])
        kinds[key] = row["kind"]
        runs[key].append(
            RunSample(
                run_id=row["run_id"],
                run_attempt=row["run_attempt"],
                outcome=row["outcome"],
                duration_ms=row["duration_ms"],
                started_at=row["started_at"],
                url=run_url(web_url, repository, row["run_id"], row["run_attempt"]),
                sha=row["sha"],
            )
        )
    if not runs:
        return []
    branch = await conn.fetchval(SELECT_PULL_REQUEST, repository, pull_request) or "main"
    durations: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    outcomes: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for row in await conn.fetch(
        SELECT_BASELINE,
        repository,
        f"refs/heads/{branch}",
        [task for task, _ in runs],
        [runner_os for _, runner_os in runs],
        BASELINE_DAYS,
        BASELINE_RUNS_PER_TASK,
    ):
        key = (row["task"], row["runner_os"])
        outcomes[key].append(row["outcome"])
        if row["outcome"] in TIMED_OUTCOMES and row["duration_ms"] is not None:
            durations[key].append(row["duration_ms"])
    return [
        summarize_task(
            task,
            kinds[task, runner_os],
            task_runs,
            durations[task, runner_os],
            outcomes[task, runner_os],
            min_baseline_runs=min_baseline_runs,
            runner_os=runner_os,
        )
        for (task, runner_os), task_runs in runs.items()
    ]
