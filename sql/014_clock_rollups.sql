-- The rest of the clock (013): the roll-up refresh's "a change to a run before today"
-- and this month's partitions.
--
-- heat_refresh_rollups compared the changed runs' start with the real today; with the
-- clock moved, a run from heatmeter's yesterday was taken for a run of the future, and
-- the later days of its pull request were not recomputed. The definition is 007's with
-- that one comparison on heatmeter_now(); its watermark stays on the real clock.
CREATE OR REPLACE FUNCTION heat_refresh_rollups(rebuild boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    -- Longer than any transaction that writes task_runs lasts (see the top of this file).
    rollup_margin CONSTANT interval := interval '2 minutes';
    started CONSTANT timestamptz := now();
    since timestamptz;
    recomputed integer;
BEGIN
    -- 'heatroll' in ASCII: one refresher at a time across replicas; the others skip.
    IF NOT pg_try_advisory_xact_lock(7522537965574564972) THEN
        RETURN NULL;
    END IF;
    INSERT INTO heat_rollup_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
    SELECT watermark INTO since FROM heat_rollup_state;

    IF to_regclass('pg_temp.heat_cells') IS NOT NULL THEN
        DROP TABLE pg_temp.heat_cells;  -- a second refresh in one transaction
    END IF;
    CREATE TEMPORARY TABLE heat_cells (
        day date NOT NULL, repository text NOT NULL, task text NOT NULL
    ) ON COMMIT DROP;
    IF rebuild OR since IS NULL THEN
        DELETE FROM task_repository_daily;
        DELETE FROM task_daily;
        INSERT INTO heat_cells
        SELECT DISTINCT heat_day(started_at), repository, task FROM task_runs;
    ELSE
        INSERT INTO heat_cells
        WITH changed AS (
            SELECT repository, task, started_at, pull_request, run_id FROM task_runs
            WHERE updated_at >= since - rollup_margin
        ), late AS (
            -- A change to a run before today can alter a later first success of the same
            -- change (the pull request, else the workflow run): its later days are
            -- recomputed too. Today's later runs are in today's cells already.
            SELECT repository, task, pull_request,
                   CASE WHEN pull_request IS NULL THEN run_id END AS run_id,
                   min(started_at) AS first_started
            FROM changed
            WHERE started_at < heat_day(heatmeter_now())::timestamp AT TIME ZONE 'UTC'
            GROUP BY 1, 2, 3, 4
        )
        SELECT heat_day(started_at), repository, task FROM changed
        UNION
        SELECT heat_day(r.started_at), r.repository, r.task
        FROM late AS l
        JOIN task_runs AS r
          ON r.repository = l.repository AND r.pull_request = l.pull_request AND r.task = l.task
        WHERE l.pull_request IS NOT NULL
          AND r.started_at > l.first_started
          AND r.started_at < l.first_started + interval '28 days'
        UNION
        SELECT heat_day(r.started_at), r.repository, r.task
        FROM late AS l
        JOIN task_runs AS r
          ON r.repository = l.repository AND r.run_id = l.run_id AND r.task = l.task
        WHERE l.pull_request IS NULL AND r.pull_request IS NULL
          AND r.started_at > l.first_started
          AND r.started_at < l.first_started + interval '28 days';
    END IF;
    CREATE INDEX ON heat_cells (repository, task, day);
    ANALYZE heat_cells;
    SELECT count(*) INTO recomputed FROM heat_cells;
    IF recomputed > 0 THEN
        PERFORM heat_rollup_cells();
    END IF;
    UPDATE heat_rollup_state
    SET watermark = started, refreshed_at = clock_timestamp(), cells = recomputed;
    RETURN recomputed;
END
$$;

-- 005 created this month's partition and the next two on the real clock; on a moved
-- clock the months ahead of heatmeter's today are made here, as upkeep would.
SELECT count(*) FROM heatmeter_task_runs_maintain(2, NULL);
