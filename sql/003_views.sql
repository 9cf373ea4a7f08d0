-- Views the platform team queries with psql or a dashboard. Windows are trailing 28
-- days, as in DESIGN.md's metric definitions.

-- Task success and efficiency per repository and task. The success rate leaves
-- cancelled and skipped runs out of the denominator; durations count only runs that
-- did the task's work to an end (success, failure, timed_out).
CREATE VIEW task_health AS
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
        FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS p50_ms,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms)
        FILTER (WHERE outcome IN ('success', 'failure', 'timed_out')) AS p90_ms,
    max(started_at)                                               AS last_run_at
FROM task_runs
WHERE started_at >= now() - interval '28 days'
GROUP BY repository, task;

-- Adoption: repositories running each task, against those where the app is installed.
CREATE VIEW task_adoption AS
SELECT
    task,
    count(DISTINCT repository)                                    AS repositories,
    count(DISTINCT repository)
        FILTER (WHERE started_at >= now() - interval '28 days')   AS active_repositories,
    (SELECT count(DISTINCT repository) FROM installation_repositories) AS installed_repositories
FROM task_runs
GROUP BY task;

-- Comment writes that keep failing: kept, visible here, retried after not_before.
CREATE VIEW comment_outbox_failing AS
SELECT repository, pull_request, attempts, last_error, not_before, first_requested_at
FROM comment_outbox
WHERE last_error IS NOT NULL;
