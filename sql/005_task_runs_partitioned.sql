-- task_runs, partitioned by month of started_at.
--
-- Why: the history grows by the minute and is read by time window (the last 28 days,
-- a pull request's runs, a default branch's recent baseline). Monthly partitions keep
-- each month's rows and indexes together, let the planner skip months a query cannot
-- need, and make retention a DROP of a whole month instead of a DELETE of millions
-- of rows.
--
-- Keys, chosen once for this step and the next one (Citus distributing by repository):
-- a unique key or primary key of a partitioned table must contain the partition key,
-- and of a Citus-distributed table the distribution column. The idempotency key
-- (repository, run_id, run_attempt, job, task, step_id) gains started_at and becomes
-- the primary key, under its old name, so `ON CONFLICT ON CONSTRAINT
-- task_runs_idempotency` keeps working. A run's start and finish reports carry the
-- same started_at (the action sends the start's own timestamp with the finish), and
-- the workflow_job webhook never changes started_at, so the key still names one run.
-- `id` stays a bigint identity, unique because the sequence is; it has no index of
-- its own because nothing looks a run up by id alone.

-- Views read the old table; they are dropped here and created again below, unchanged.
DROP VIEW task_health;
DROP VIEW task_adoption;

ALTER TABLE task_runs RENAME TO task_runs_unpartitioned;
ALTER SEQUENCE task_runs_id_seq RENAME TO task_runs_unpartitioned_id_seq;

-- LIKE keeps every column (including any a later migration added), default and CHECK.
CREATE TABLE task_runs (
    LIKE task_runs_unpartitioned
        INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING COMMENTS,
    CONSTRAINT task_runs_idempotency_new
        PRIMARY KEY (repository, run_id, run_attempt, job, task, step_id, started_at)
) PARTITION BY RANGE (started_at);

-- Rows of a month that has no partition yet land here; heatmeter_task_runs_maintain()
-- moves them into their month's own partition.
CREATE TABLE task_runs_default PARTITION OF task_runs DEFAULT;

-- The partition of the month that holds `month` (months in UTC, whatever the session's
-- time zone), created if missing: rows of that month waiting in the default partition
-- move into it. Returns the partition's name, task_runs_yYYYYmMM.
CREATE FUNCTION heatmeter_task_runs_partition(month timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    first_day timestamp   := date_trunc('month', month AT TIME ZONE 'UTC');
    lo        timestamptz := first_day AT TIME ZONE 'UTC';
    hi        timestamptz := (first_day + interval '1 month') AT TIME ZONE 'UTC';
    name      text        := 'task_runs_' || to_char(first_day, '"y"YYYY"m"MM');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;
    END IF;
    -- Built beside the table and attached: ATTACH takes a lighter lock on task_runs than
    -- CREATE ... PARTITION OF, so reports keep flowing while a month is added.
    EXECUTE format(
        'CREATE TABLE %I (LIKE task_runs INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
        'CHECK (started_at >= %L AND started_at < %L))', name, lo, hi);
    EXECUTE format(
        'WITH moved AS (DELETE FROM task_runs_default WHERE started_at >= %L '
        'AND started_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, name);
    EXECUTE format('ALTER TABLE task_runs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   name, lo, hi);
    RETURN name;
END
$$;

-- Keep task_runs ready for what arrives: partitions for this month and the next
-- `months_ahead`, a partition for every month found in the default partition, and,
-- when `keep` is given, whole months older than `keep` dropped (plus any such rows
-- still in the default partition deleted). Safe to call from several replicas: one
-- does the work, the others return at once. Returns what it did, one line per change.
CREATE FUNCTION heatmeter_task_runs_maintain(months_ahead integer, keep interval)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    this_month timestamp   := date_trunc('month', now() AT TIME ZONE 'UTC');
    month      timestamptz;
    part       record;
    cutoff     timestamptz := now() - keep;
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

-- A partition for every month the existing rows cover, and for the months ahead.
SELECT heatmeter_task_runs_partition(month)
FROM (
    SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC') AS month
    FROM task_runs_unpartitioned
    UNION
    SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead)
    FROM generate_series(0, 2) AS ahead
) AS months(first_day)
CROSS JOIN LATERAL (SELECT first_day AT TIME ZONE 'UTC') AS m(month);

INSERT INTO task_runs OVERRIDING SYSTEM VALUE SELECT * FROM task_runs_unpartitioned;
-- The new identity goes on from the old one, so ids are never reused.
SELECT setval(pg_get_serial_sequence('task_runs', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM task_runs_unpartitioned), false);

DROP TABLE task_runs_unpartitioned;
ALTER TABLE task_runs RENAME CONSTRAINT task_runs_idempotency_new TO task_runs_idempotency;

-- The same indexes as before, now one per partition (created on each automatically).
-- "This repository and task, newest first": baselines, trends, `heatmeter report`.
CREATE INDEX task_runs_repository_task_started
    ON task_runs (repository, task, started_at DESC);

-- "This pull request": the summary comment.
CREATE INDEX task_runs_pull_request
    ON task_runs (repository, pull_request, task)
    WHERE pull_request IS NOT NULL;

-- Tasks still running, which a completed workflow_job may have to close.
CREATE INDEX task_runs_unfinished
    ON task_runs (repository, run_id, run_attempt)
    WHERE outcome IS NULL;

-- 003's views, unchanged.
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

CREATE VIEW task_adoption AS
SELECT
    task,
    count(DISTINCT repository)                                    AS repositories,
    count(DISTINCT repository)
        FILTER (WHERE started_at >= now() - interval '28 days')   AS active_repositories,
    (SELECT count(DISTINCT repository) FROM installation_repositories) AS installed_repositories
FROM task_runs
GROUP BY task;
