-- task_health, fast at millions of runs (task_adoption reads 007's daily roll-ups).
--
-- task_health's medians and p90s over a trailing 28 days do not add up from smaller
-- parts, and percentile_cont runs in one process: at 10 million runs the window holds
-- about 3 million, and no index brings that under a second. So the view reads a
-- snapshot of the live query, refreshed by the service every HEATMETER_VIEWS_REFRESH
-- seconds (default 300), and says when in `as_of`. task_health_live keeps the exact,
-- slower query for whoever needs this second's figures.

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
