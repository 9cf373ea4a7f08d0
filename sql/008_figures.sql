-- Figures a team can act on (issue 9): one clock per duration, flaky runs told apart,
-- and no default-branch run counted as a PR's.

-- task_health, with the same columns first (CREATE OR REPLACE keeps them) and new ones
-- after. Durations now leave out runs closed by the workflow_job webhook: their end is
-- GitHub's clock against the runner's start, so they keep their outcome (counted in
-- runs and the success rate) but not a duration. `unmeasured` says how many.
-- A commit is *flaky* for a task when a failure of the task on it is followed by a
-- success on the same commit (a re-run passed with no code change); runs without a sha
-- are their own commit with their re-runs. flaky_rate = flaky commits / commits with a
-- success, failure or time-out.
CREATE OR REPLACE VIEW task_health AS
WITH recent AS (
    SELECT * FROM task_runs WHERE started_at >= now() - interval '28 days'
),
by_commit AS (
    SELECT
        repository,
        task,
        min(started_at) FILTER (WHERE outcome IN ('failure', 'timed_out')) AS first_failure,
        max(started_at) FILTER (WHERE outcome = 'success')                 AS last_success,
        bool_or(outcome IN ('success', 'failure', 'timed_out'))            AS decisive
    FROM recent
    GROUP BY repository, task, coalesce(sha, 'run:' || run_id)
),
flakiness AS (
    SELECT
        repository,
        task,
        count(*) FILTER (WHERE decisive)                     AS commits,
        count(*) FILTER (WHERE last_success > first_failure) AS flaky_commits
    FROM by_commit
    GROUP BY repository, task
),
health AS (
    SELECT
        repository,
        task,
        count(*)                                                      AS runs,
        count(*) FILTER (WHERE outcome = 'success')                   AS succeeded,
        count(*) FILTER (WHERE outcome IN ('failure', 'timed_out'))   AS failed,
        count(*) FILTER (WHERE outcome = 'cancelled')                 AS cancelled,
        count(*) FILTER (WHERE outcome = 'skipped')                   AS skipped,
        count(*) FILTER (WHERE outcome IS NULL)                       AS running,
        round(
            count(*) FILTER (WHERE outcome = 'success')::numeric
            / nullif(count(*) FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')), 0),
            4
        )                                                             AS success_rate,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
            FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')
                    AND closed_by IS DISTINCT FROM 'workflow_job')    AS p50_ms,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms)
            FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')
                    AND closed_by IS DISTINCT FROM 'workflow_job')    AS p90_ms,
        max(started_at)                                               AS last_run_at,
        count(*) FILTER (WHERE closed_by = 'workflow_job')            AS unmeasured
    FROM recent
    GROUP BY repository, task
)
SELECT
    h.repository, h.task, h.runs, h.succeeded, h.failed, h.cancelled, h.skipped, h.running,
    h.success_rate, h.p50_ms, h.p90_ms, h.last_run_at,
    h.unmeasured,
    f.commits,
    f.flaky_commits,
    round(f.flaky_commits::numeric / nullif(f.commits, 0), 4) AS flaky_rate
FROM health AS h
JOIN flakiness AS f USING (repository, task);

-- Runs on a PR's base or default branch were given to the PR when they ran its head
-- commit (a fast-forward merge, a head pushed to main), and so counted twice: in the
-- PR's table and in the baseline. By heatmeter.ownership's rule they are the branch's;
-- runs whose own event named the PR (pull_request_target and issue_comment runs carry
-- the default branch's ref) stay with it.
UPDATE task_runs AS t
SET pull_request = NULL, updated_at = now()
FROM pull_requests AS p
WHERE p.repository = t.repository
  AND p.number = t.pull_request
  AND t.ref IN ('refs/heads/' || p.base_ref, 'refs/heads/' || coalesce(p.default_branch, p.base_ref))
  AND (t.event_name IS NULL OR t.event_name NOT IN (
      'pull_request', 'pull_request_target', 'pull_request_review',
      'pull_request_review_comment', 'issue_comment', 'workflow_run'
  ));
