-- Platform tasks measured from job steps, without changing any workflow: the platform
-- team names which steps are which task (task_definitions); the workflow_job webhook and
-- `heatmeter backfill` turn matching steps into task runs and record every job's queue
-- time. The action's own report of a task always wins over a step seen in the job.

-- Which job steps are which platform task. A step matches when its name matches
-- step_pattern (a glob, or a regular expression matched against the whole name) and
-- the optional repository and workflow globs match too.
CREATE TABLE task_definitions (
    name            text        PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 100),
    kind            text        NOT NULL
        CHECK (kind IN ('scaffolding', 'deploy', 'provisioning', 'other')),
    step_pattern    text        NOT NULL CHECK (char_length(step_pattern) BETWEEN 1 AND 500),
    pattern_syntax  text        NOT NULL CHECK (pattern_syntax IN ('glob', 'regex')),
    repository_glob text        CHECK (char_length(repository_glob) BETWEEN 1 AND 200),
    workflow_glob   text        CHECK (char_length(workflow_glob) BETWEEN 1 AND 255),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Where a task run's facts came from: the action's report, a job step seen in a
-- workflow_job webhook, or a job step found by `heatmeter backfill`.
ALTER TABLE task_runs
    ADD COLUMN source text NOT NULL DEFAULT 'action'
        CONSTRAINT task_runs_source CHECK (source IN ('action', 'job_step', 'backfill')),
    -- GitHub's id of the job, for rows made from its steps (the action does not know it).
    ADD COLUMN job_id bigint;

-- Rows from job steps are authenticated by the webhook's signature ('webhook') or were
-- read with the App's or a token's own credentials ('github_api'); their end is the
-- step's own ('job_step'), on the runner's clock like its start. The checks are found by
-- the column they constrain, not by name, so this holds whatever an earlier migration
-- (or a rebuilt, partitioned task_runs) called them.
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.conname
        FROM pg_constraint AS c
        JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = 'task_runs'::regclass AND c.contype = 'c'
          AND cardinality(c.conkey) = 1 AND a.attname IN ('auth_method', 'closed_by')
    LOOP
        EXECUTE format('ALTER TABLE task_runs DROP CONSTRAINT %I', found.conname);
    END LOOP;
END
$$;
ALTER TABLE task_runs
    ADD CONSTRAINT task_runs_auth_method
        CHECK (auth_method IN ('hmac', 'oidc', 'webhook', 'github_api')),
    ADD CONSTRAINT task_runs_closed_by
        CHECK (closed_by IN ('report', 'workflow_job', 'job_step'));

-- Rows from job steps of one run attempt: what an action report of the same job replaces.
CREATE INDEX task_runs_from_job_steps
    ON task_runs (repository, run_id, run_attempt)
    WHERE source <> 'action';

-- One row per job GitHub told us about (webhook or backfill): its runner and how long it
-- waited for one. queue_ms is NULL for a job that never got a runner (skipped, or
-- cancelled while queued).
CREATE TABLE job_queue_times (
    repository   text        NOT NULL,
    job_id       bigint      NOT NULL,
    run_id       bigint      NOT NULL,
    run_attempt  integer     NOT NULL CHECK (run_attempt >= 1),
    workflow     text,
    job          text        NOT NULL,
    labels       text[]      NOT NULL,
    -- NULL when the job never reached a runner, so nobody knows which kind it would be.
    self_hosted  boolean,
    runner_name  text,
    runner_group text,
    conclusion   text,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    queue_ms     bigint      CHECK (queue_ms >= 0),
    source       text        NOT NULL CHECK (source IN ('webhook', 'backfill')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, job_id)
);
CREATE INDEX job_queue_times_run ON job_queue_times (repository, run_id, run_attempt);
CREATE INDEX job_queue_times_created ON job_queue_times (created_at);

-- Whether a task run happened in a job: the same job name (the action's GITHUB_JOB equals
-- the job's name unless the job sets `name:` or runs in a matrix), or the same runner
-- while the job ran (a runner runs one job at a time; a minute either side absorbs the
-- runner's clock against GitHub's).
CREATE FUNCTION task_run_in_job(
    run_job text, run_runner text, run_started timestamptz,
    job_name text, job_runner text, job_started timestamptz, job_completed timestamptz
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT run_job = job_name
        OR (run_runner = job_runner
            AND run_started BETWEEN job_started - interval '1 minute'
                                AND job_completed + interval '1 minute')
$$;

-- The action's report wins over a job step of the same run attempt, job and task, in
-- whichever order they arrive: an action row deletes the step rows it duplicates, and a
-- step row is not inserted where an action row exists. Two transactions arriving at once
-- cannot see each other's rows, so both sides first take a transaction-scoped lock on the
-- run attempt's bucket, and the second sees what the first committed (each statement of
-- a PL/pgSQL function takes a fresh snapshot). Reports take it shared, so reports never
-- wait for each other and a transaction storing many of them cannot deadlock with
-- another; job steps take it exclusive. 1,024 buckets bound the locks one transaction can
-- hold, whatever it stores. Reports of tasks that have no definition can never meet a
-- step row and skip all of it.
CREATE FUNCTION task_runs_lock_bucket(repository text, run_id bigint, run_attempt integer)
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT hashtext(repository || '/' || run_id || '/' || run_attempt) & 1023
$$;

CREATE FUNCTION task_runs_action_wins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source = 'action'
       AND NOT EXISTS (SELECT 1 FROM task_definitions WHERE name = NEW.task) THEN
        RETURN NEW;
    END IF;
    -- 1752460398 is 'heat' in ASCII: heatmeter's lock class, apart from other users'.
    IF NEW.source = 'action' THEN
        PERFORM pg_advisory_xact_lock_shared(1752460398, task_runs_lock_bucket(
            NEW.repository, NEW.run_id, NEW.run_attempt));
        DELETE FROM task_runs AS s
        USING job_queue_times AS q
        WHERE s.repository = NEW.repository AND s.run_id = NEW.run_id
          AND s.run_attempt = NEW.run_attempt AND s.task = NEW.task AND s.source <> 'action'
          AND q.repository = s.repository AND q.job_id = s.job_id
          AND task_run_in_job(NEW.job, NEW.runner_name, NEW.started_at,
                              q.job, q.runner_name, q.started_at, q.completed_at);
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(1752460398, task_runs_lock_bucket(
        NEW.repository, NEW.run_id, NEW.run_attempt));
    IF EXISTS (
        SELECT 1 FROM task_runs AS a
        JOIN job_queue_times AS q ON q.repository = NEW.repository AND q.job_id = NEW.job_id
        WHERE a.repository = NEW.repository AND a.run_id = NEW.run_id
          AND a.run_attempt = NEW.run_attempt AND a.task = NEW.task AND a.source = 'action'
          AND task_run_in_job(a.job, a.runner_name, a.started_at,
                              q.job, q.runner_name, q.started_at, q.completed_at)
    ) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER task_runs_action_wins
    BEFORE INSERT ON task_runs
    FOR EACH ROW EXECUTE FUNCTION task_runs_action_wins();

-- Where `heatmeter backfill` has been, per repository: every workflow run created in
-- [walked_from, walked_until) has been walked and its completed jobs recorded.
CREATE TABLE backfill_cursors (
    repository   text        PRIMARY KEY,
    walked_from  timestamptz NOT NULL,
    walked_until timestamptz NOT NULL CHECK (walked_until >= walked_from),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Queue time, a platform metric: per task and runner label, how long its jobs waited for
-- a runner (last 28 days). A job counts under each of its labels. self_hosted tells the
-- platform team's own runners from GitHub's.
CREATE VIEW task_queue_times AS
WITH task_jobs AS (
    SELECT DISTINCT t.task, q.repository, q.job_id
    FROM job_queue_times AS q
    JOIN task_runs AS t
      ON t.repository = q.repository AND t.run_id = q.run_id AND t.run_attempt = q.run_attempt
     AND (t.job_id = q.job_id
          OR (t.job_id IS NULL
              AND task_run_in_job(t.job, t.runner_name, t.started_at,
                                  q.job, q.runner_name, q.started_at, q.completed_at)))
    WHERE q.created_at >= now() - interval '28 days'
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

-- The same for every job, task or not: how the runners themselves are doing.
CREATE VIEW runner_queue_times AS
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
WHERE q.created_at >= now() - interval '28 days'
GROUP BY label, q.self_hosted;

-- Adoption before and after, per task with a definition and ISO week: repositories that
-- ran the platform's action, and those that ran only a matching step of their own.
-- A repository that did both in one week counts as the action's (it is moving over).
CREATE VIEW task_adoption_by_source AS
WITH weekly AS (
    SELECT
        t.task,
        date_trunc('week', t.started_at)::date                  AS week_start,
        lower(t.repository)                                     AS repository,
        bool_or(t.source = 'action')                            AS ran_action,
        count(*) FILTER (WHERE t.source = 'action')             AS action_runs,
        count(*) FILTER (WHERE t.source <> 'action')            AS own_step_runs
    FROM task_runs AS t
    JOIN task_definitions AS d ON d.name = t.task
    GROUP BY 1, 2, 3
)
SELECT
    task,
    to_char(week_start, 'IYYY-"W"IW')                           AS iso_week,
    week_start,
    count(*) FILTER (WHERE ran_action)                          AS action_repositories,
    count(*) FILTER (WHERE NOT ran_action)                      AS own_step_repositories,
    count(*)                                                    AS repositories,
    sum(action_runs)::bigint                                    AS action_runs,
    sum(own_step_runs)::bigint                                  AS own_step_runs
FROM weekly
GROUP BY task, week_start;
