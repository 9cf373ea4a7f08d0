-- task_health and task_adoption, fast at millions of runs.
--
-- task_adoption counted distinct repositories over every run (a sort of the whole
-- table: 15 s at 10 million runs). Which repositories ran which task, and when last, is
-- a small table kept current by a trigger on every insert into task_runs, whoever
-- inserts (reports, webhooks, backfills); the view counts its rows. Exact and live.
--
-- task_health's medians and p90s over a trailing 28 days do not add up from smaller
-- parts, and percentile_cont runs in one process: at 10 million runs the window holds
-- about 3 million, and no index brings that under a second. So the view reads a
-- snapshot of the live query, refreshed by the service every HEATMETER_VIEWS_REFRESH
-- seconds (default 300), and says when in `as_of`. task_health_live keeps the exact,
-- slower query for whoever needs this second's figures.

CREATE TABLE task_repositories (
    task        text        NOT NULL,
    repository  text        NOT NULL,
    last_run_at timestamptz NOT NULL,
    PRIMARY KEY (task, repository)
);

INSERT INTO task_repositories (task, repository, last_run_at)
SELECT task, repository, max(started_at) FROM task_runs GROUP BY task, repository;

-- Once per INSERT statement, however many rows: a batch of reports costs one upsert.
-- Pairs already known with a later run are skipped before the upsert, so they take no
-- row lock; the rest are upserted in key order, so concurrent batches cannot deadlock.
CREATE FUNCTION heatmeter_note_task_repositories() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_repositories AS known (task, repository, last_run_at)
    SELECT n.task, n.repository, n.last_run_at
    FROM (
        SELECT task, repository, max(started_at) AS last_run_at
        FROM new_runs GROUP BY task, repository
    ) AS n
    WHERE NOT EXISTS (
        SELECT 1 FROM task_repositories AS k
        WHERE k.task = n.task AND k.repository = n.repository AND k.last_run_at >= n.last_run_at
    )
    ORDER BY n.task, n.repository
    ON CONFLICT (task, repository) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
    WHERE known.last_run_at < EXCLUDED.last_run_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_runs_note_repositories
    AFTER INSERT ON task_runs
    REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION heatmeter_note_task_repositories();

-- Same columns as 003's view, same meaning.
CREATE OR REPLACE VIEW task_adoption AS
SELECT
    task,
    count(*)                                                      AS repositories,
    count(*) FILTER (WHERE last_run_at >= now() - interval '28 days') AS active_repositories,
    (SELECT count(DISTINCT repository) FROM installation_repositories) AS installed_repositories
FROM task_repositories
GROUP BY task;

ALTER VIEW task_health RENAME TO task_health_live;

CREATE MATERIALIZED VIEW task_health_snapshot AS
SELECT *, now() AS as_of FROM task_health_live;
-- REFRESH ... CONCURRENTLY needs a unique index; readers never wait for a refresh.
CREATE UNIQUE INDEX task_health_snapshot_key ON task_health_snapshot (repository, task);

-- The live view's columns (whatever earlier migrations gave it), then when the figures
-- were computed.
CREATE VIEW task_health AS SELECT * FROM task_health_snapshot;

-- Recompute the snapshot; one replica at a time (the others return false at once).
-- The window's runs are sorted per repository and task for the percentiles: in memory
-- rather than in temporary files (4 MB, the default work_mem, spills at a million runs).
CREATE FUNCTION heatmeter_refresh_task_health() RETURNS boolean
LANGUAGE plpgsql SET work_mem = '256MB' AS $$
BEGIN
    -- "heatmeter views" as a lock id; held to the end of the caller's transaction.
    IF NOT pg_try_advisory_xact_lock(7308604897068083571) THEN
        RETURN false;
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY task_health_snapshot;
    RETURN true;
END
$$;

-- After retention dropped old months: forget pairs whose runs are all gone. Only pairs
-- last seen before the cutoff can be such, so this looks at few of them.
CREATE FUNCTION heatmeter_forget_task_repositories(before timestamptz) RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM task_repositories AS k
        WHERE k.last_run_at < before
          AND NOT EXISTS (
              SELECT 1 FROM task_runs AS r WHERE r.repository = k.repository AND r.task = k.task
          )
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
