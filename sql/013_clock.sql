-- One clock for every rolling window: heatmeter_now().
--
-- The scorecard's 28 days, the queue-time views, task_health and retention all asked
-- now() for "today", so a test could only feed them data dated near the day it was
-- written, and broke once the window moved past it. They now ask heatmeter_now(): the
-- transaction's now(), moved by the session setting heatmeter.clock_offset (an
-- interval) when one is set. The service sets it from HEATMETER_CLOCK_OFFSET on its
-- connections (heatmeter/clock.py), and the test suite sets it on its database, so the
-- whole suite can run a year ahead or behind and prove it pins no calendar date.
--
-- Change tracking keeps the real now(): task_runs.updated_at, outbox leases and the
-- roll-ups' refresh watermark compare moments of this server, not of the calendar.
CREATE FUNCTION heatmeter_now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT now() + coalesce(nullif(current_setting('heatmeter.clock_offset', true), '')::interval,
                            interval '0')
$$;

-- The definitions below are those of 005, 007, 008 and 010 with now() read as
-- heatmeter_now(); nothing else changes.

CREATE OR REPLACE VIEW task_health_live AS
WITH recent AS (
    SELECT * FROM task_runs WHERE started_at >= heatmeter_now() - interval '28 days'
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


CREATE OR REPLACE VIEW heat_scorecard AS
WITH bounds AS (
    SELECT heat_day(heatmeter_now()) + 1 AS until
),
current_period AS (
    SELECT f.* FROM bounds, heat_figures(bounds.until - 28, bounds.until) AS f
),
previous_period AS (
    SELECT f.* FROM bounds, heat_figures(bounds.until - 56, bounds.until - 28) AS f
)
SELECT
    coalesce(c.task, p.task)                                  AS task,
    coalesce(c.kind, p.kind)                                  AS kind,
    (SELECT until - 28 FROM bounds)                           AS since,
    (SELECT until - 1 FROM bounds)                            AS through,
    coalesce(c.runs, 0)                                       AS runs,
    coalesce(p.runs, 0)                                       AS runs_before,
    coalesce(c.runs, 0) - coalesce(p.runs, 0)                 AS runs_change,
    c.success, c.failure, c.timed_out, c.cancelled, c.skipped, c.unfinished,
    c.success_rate,
    p.success_rate                                            AS success_rate_before,
    c.success_rate - p.success_rate                           AS success_rate_change,
    c.timed_runs,
    c.p50_ms,
    p.p50_ms                                                  AS p50_ms_before,
    round(((c.p50_ms - p.p50_ms) / nullif(p.p50_ms, 0) * 100)::numeric, 1)
                                                              AS p50_change_pct,
    c.p90_ms,
    p.p90_ms                                                  AS p90_ms_before,
    round(((c.p90_ms - p.p90_ms) / nullif(p.p90_ms, 0) * 100)::numeric, 1)
                                                              AS p90_change_pct,
    c.first_successes,
    c.attempts_to_first_success,
    p.attempts_to_first_success                               AS attempts_to_first_success_before,
    c.attempts_to_first_success - p.attempts_to_first_success AS attempts_to_first_success_change,
    coalesce(c.repositories, 0)                               AS repositories,
    coalesce(c.adopting_repositories, 0)                      AS adopting_repositories,
    coalesce(c.outside_app_repositories, 0)                   AS outside_app_repositories,
    coalesce(c.installed_repositories, p.installed_repositories) AS installed_repositories,
    coalesce(c.adoption_share, 0)                             AS adoption_share,
    coalesce(p.adoption_share, 0)                             AS adoption_share_before,
    coalesce(c.adoption_share, 0) - coalesce(p.adoption_share, 0) AS adoption_share_change,
    c.happiness_mean,
    p.happiness_mean                                          AS happiness_mean_before,
    c.happiness_mean - p.happiness_mean                       AS happiness_mean_change,
    coalesce(c.happiness_responses, 0)                        AS happiness_responses,
    coalesce(p.happiness_responses, 0)                        AS happiness_responses_before
FROM current_period AS c
FULL JOIN previous_period AS p ON p.task = c.task;


CREATE OR REPLACE VIEW heat_versions AS
WITH bounds AS (
    SELECT heat_day(heatmeter_now()) + 1 AS until
),
per_task AS (
    SELECT f.task, f.repositories FROM bounds, heat_figures(bounds.until - 28, bounds.until) AS f
)
SELECT v.task, v.version, v.kind, v.first_day, v.last_day, v.runs, v.success, v.failure,
       v.timed_out, v.cancelled, v.skipped, v.unfinished, v.success_rate, v.timed_runs,
       v.p50_ms, v.p90_ms, v.repositories,
       -- The rollout: of the repositories that ran the task, the share on this version.
       round(v.repositories::numeric / nullif(t.repositories, 0), 4) AS repositories_share,
       v.adopting_repositories, v.outside_app_repositories, v.installed_repositories,
       v.adoption_share
FROM bounds, heat_figures(bounds.until - 28, bounds.until, by_version => true) AS v
LEFT JOIN per_task AS t USING (task)
WHERE v.runs > 0;


CREATE OR REPLACE VIEW task_adoption AS
SELECT f.task, f.kind, f.adopting_repositories, f.installed_repositories, f.adoption_share,
       f.outside_app_repositories, f.repositories, f.last_day AS last_run_on
FROM (SELECT heat_day(heatmeter_now()) + 1 AS until) AS bounds,
     heat_figures(bounds.until - 28, bounds.until) AS f
WHERE f.runs > 0;


CREATE OR REPLACE VIEW heat_outside_app AS
WITH recent AS (
    -- Summed per name as reported first: names are few, day rows many.
    SELECT repository, task, sum(runs) AS runs, max(day) AS last_day
    FROM task_repository_daily
    WHERE day > heat_day(heatmeter_now()) - 28
    GROUP BY repository, task
), keyed AS (
    SELECT coalesce(ren.new_key, lower(r.repository)) AS repository_key, r.*
    FROM recent AS r
    LEFT JOIN repository_renames AS ren ON ren.old_key = lower(r.repository)
)
SELECT repository_key,
       max(repository)                         AS repository,
       array_agg(DISTINCT task ORDER BY task)  AS tasks,
       sum(runs)::bigint                       AS runs,
       max(last_day)                           AS last_run_on
FROM keyed
WHERE repository_key NOT IN (SELECT repository_key FROM heat_installed_repositories)
GROUP BY repository_key;


CREATE OR REPLACE VIEW task_queue_times AS
WITH task_jobs AS (
    SELECT DISTINCT t.task, q.repository, q.job_id
    FROM job_queue_times AS q
    JOIN task_runs AS t
      ON t.repository = q.repository AND t.run_id = q.run_id AND t.run_attempt = q.run_attempt
     AND (t.job_id = q.job_id
          OR (t.job_id IS NULL
              AND task_run_in_job(t.job, t.runner_name, t.started_at,
                                  q.job, q.runner_name, q.started_at, q.completed_at)))
    WHERE q.created_at >= heatmeter_now() - interval '28 days'
)
SELECT
    tj.task,
    label,
    q.self_hosted,
    count(*)                                                     AS jobs,
    count(q.queue_ms)                                            AS started_jobs,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY q.queue_ms)      AS p50_queue_ms,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY q.queue_ms)      AS p90_queue_ms,
    max(q.created_at)                                            AS last_job_at
FROM task_jobs AS tj
JOIN job_queue_times AS q ON q.repository = tj.repository AND q.job_id = tj.job_id
CROSS JOIN LATERAL unnest(q.labels) AS label
GROUP BY tj.task, label, q.self_hosted;


CREATE OR REPLACE VIEW runner_queue_times AS
SELECT
    label,
    q.self_hosted,
    count(*)                                                     AS jobs,
    count(q.queue_ms)                                            AS started_jobs,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY q.queue_ms)      AS p50_queue_ms,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY q.queue_ms)      AS p90_queue_ms,
    max(q.created_at)                                            AS last_job_at
FROM job_queue_times AS q
CROSS JOIN LATERAL unnest(q.labels) AS label
WHERE q.created_at >= heatmeter_now() - interval '28 days'
GROUP BY label, q.self_hosted;


CREATE OR REPLACE FUNCTION heatmeter_task_runs_maintain(months_ahead integer, keep interval)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    this_month timestamp   := date_trunc('month', heatmeter_now() AT TIME ZONE 'UTC');
    month      timestamptz;
    part       record;
    cutoff     timestamptz := heatmeter_now() - keep;
    deleted    bigint;
BEGIN
    -- "heatmeter partitions" as a lock id; held to the end of the caller's transaction.
    IF NOT pg_try_advisory_xact_lock(7308604897068083570) THEN
        RETURN;
    END IF;
    FOR month IN
        SELECT m AT TIME ZONE 'UTC'
        FROM generate_series(this_month, this_month + make_interval(months => months_ahead),
                             interval '1 month') AS m
        UNION
        SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        FROM task_runs_default
        ORDER BY 1
    LOOP
        IF keep IS NOT NULL
           AND (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month')
               AT TIME ZONE 'UTC' <= cutoff THEN
            CONTINUE;  -- a month past retention: its rows are deleted below instead
        END IF;
        IF to_regclass('task_runs_' || to_char(month AT TIME ZONE 'UTC', '"y"YYYY"m"MM')) IS NULL
        THEN
            RETURN NEXT 'created ' || heatmeter_task_runs_partition(month);
        END IF;
    END LOOP;
    IF keep IS NULL THEN
        RETURN;
    END IF;
    FOR part IN
        SELECT c.relname,
               (make_timestamp(substr(c.relname, 12, 4)::int, substr(c.relname, 17, 2)::int,
                               1, 0, 0, 0) + interval '1 month') AT TIME ZONE 'UTC' AS upper
        FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'task_runs'::regclass AND c.relname ~ '^task_runs_y\d{4}m\d{2}$'
        ORDER BY c.relname
    LOOP
        IF part.upper <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT 'dropped ' || part.relname;
        END IF;
    END LOOP;
    DELETE FROM task_runs_default WHERE started_at < cutoff;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    IF deleted > 0 THEN
        RETURN NEXT 'deleted ' || deleted || ' rows from task_runs_default';
    END IF;
END
$$;


-- The snapshot of task_health_live says when, on the same clock, its figures were taken.
DROP VIEW task_health;
DROP MATERIALIZED VIEW task_health_snapshot;
CREATE MATERIALIZED VIEW task_health_snapshot AS
SELECT *, heatmeter_now() AS as_of FROM task_health_live;
CREATE UNIQUE INDEX task_health_snapshot_key ON task_health_snapshot (repository, task);
CREATE VIEW task_health AS SELECT * FROM task_health_snapshot;
