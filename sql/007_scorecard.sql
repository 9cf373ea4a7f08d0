-- The HEAT scorecard in SQL (issue 7): daily roll-ups of task_runs, and the views and
-- functions that put Happiness, Efficiency, Adoption and Task success side by side.
--
-- How the roll-ups are kept. The service calls heat_refresh_rollups() every
-- HEATMETER_ROLLUP_INTERVAL seconds (one replica at a time, under an advisory lock). It
-- recomputes only the cells (UTC day, repository, task) whose runs changed since the last
-- refresh, found through task_runs.updated_at, which every write sets to now(). Not a
-- trigger: a row trigger upserting the day's row would serialise concurrent reports on
-- that hot row, and any trigger adds work to the ingest path, which must reach thousands
-- of reports per second; a refresh a few seconds behind costs nothing there. now() is a
-- transaction's start, so a write committed after a refresh began can carry an updated_at
-- older than that refresh: every refresh looks back ROLLUP_MARGIN further than the last
-- one's start, which covers any ingest transaction (each lasts well under a second).
-- Call `SELECT heat_refresh_rollups();` to bring the roll-ups up to date at once, or
-- `SELECT heat_refresh_rollups(rebuild => true);` to rebuild them from task_runs.
--
-- Roll-ups outlive raw runs: a retention policy that drops old task_runs partitions
-- leaves the scorecard's history in place.
--
-- Durations: a percentile of 28 days cannot be made from daily percentiles, so each day
-- keeps a mergeable digest of its durations: counts and sums per logarithmic bucket
-- (each bucket 2 % wide). Merging days adds the buckets; a percentile is then
-- interpolated, as percentile_cont does, over the buckets' means. That is exact whenever
-- no two different durations share a bucket and otherwise within 2 %, at a cost that does
-- not grow with the number of runs (a few hundred buckets at most per task and day),
-- where keeping every duration would make a 28-day p90 sort every run of the window.
-- Only runs with a measured duration count: outcome success, failure or timed_out, and
-- not closed by the workflow_job webhook (job end minus task start mixes two clocks).

-- task_runs rows changed since a point in time: what a refresh looks at. BRIN because
-- updated_at grows with the table's physical order and the index costs ingest next to
-- nothing.
CREATE INDEX task_runs_updated_brin ON task_runs USING brin (updated_at);

-- The UTC day a run belongs to (by its start).
CREATE FUNCTION heat_day(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (at AT TIME ZONE 'UTC')::date $$;

-- The Monday that starts a date's ISO week.
CREATE FUNCTION heat_week(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT day - (extract(isodow FROM day)::integer - 1)
$$;

-- The duration digest's bucket: bucket k holds durations d with floor(ln(d + 1) / ln 1.02) = k.
CREATE FUNCTION heat_duration_bucket(duration_ms bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(ln(duration_ms + 1) / ln(1.02))::integer
$$;

-- Percentiles of digests given as parallel arrays (bucket, count, sum of durations), in
-- any order and with repeated buckets (the concatenation of several days' digests).
-- Linear interpolation between closest ranks, as percentile_cont and the PR comment do;
-- each bucket's durations are taken to be the bucket's mean. NULL without durations.
CREATE FUNCTION heat_digest_percentiles(
    buckets integer[], counts bigint[], sums bigint[], fractions double precision[]
) RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH merged AS (
        SELECT bucket, sum(n) AS n, sum(total) AS total
        FROM unnest(buckets, counts, sums) AS u(bucket, n, total)
        WHERE n > 0
        GROUP BY bucket
    ), ranked AS (
        -- Durations at 0-based positions [through - n, through) have this value.
        SELECT (total / n)::double precision AS value, sum(n) OVER (ORDER BY bucket) AS through
        FROM merged
    ), size AS (
        SELECT sum(n) AS n FROM merged
    )
    SELECT array_agg(
        lo.value + (hi.value - lo.value) * (f.rank - floor(f.rank)) ORDER BY f.ord
    )
    FROM size
    CROSS JOIN LATERAL (
        SELECT q.ord, (size.n - 1) * q.fraction AS rank
        FROM unnest(fractions) WITH ORDINALITY AS q(fraction, ord)
    ) AS f
    CROSS JOIN LATERAL (
        SELECT value FROM ranked WHERE through > floor(f.rank) ORDER BY through LIMIT 1
    ) AS lo
    CROSS JOIN LATERAL (
        SELECT value FROM ranked
        WHERE through > least(floor(f.rank) + 1, size.n - 1) ORDER BY through LIMIT 1
    ) AS hi
    WHERE size.n > 0
$$;

-- One row per UTC day, repository (as reported), task, kind and version with runs.
CREATE TABLE task_repository_daily (
    day                       date    NOT NULL,
    repository                text    NOT NULL,
    task                      text    NOT NULL,
    kind                      text    NOT NULL,
    version                   text,
    runs                      integer NOT NULL,
    success                   integer NOT NULL,
    failure                   integer NOT NULL,
    timed_out                 integer NOT NULL,
    cancelled                 integer NOT NULL,
    skipped                   integer NOT NULL,
    unfinished                integer NOT NULL,
    -- The duration digest of the runs with a measured duration (timed_runs of them).
    timed_runs                integer NOT NULL,
    duration_buckets          integer[] NOT NULL,
    duration_counts           bigint[]  NOT NULL,
    duration_sums             bigint[]  NOT NULL,
    -- Changes whose first success (within 28 days) ran this day, and the attempts
    -- (finished runs, skipped ones aside) each took up to and including it, summed.
    first_successes           integer NOT NULL,
    attempts_to_first_success integer NOT NULL
);
CREATE UNIQUE INDEX task_repository_daily_key
    ON task_repository_daily (day, repository, task, kind, coalesce(version, ''));
CREATE INDEX task_repository_daily_task ON task_repository_daily (day, task);
-- Which repositories ran what in a period, read without the wide digest columns.
CREATE INDEX task_repository_daily_presence
    ON task_repository_daily (day) INCLUDE (repository, task, kind, version, runs);
CREATE INDEX task_repository_daily_repository
    ON task_repository_daily (lower(repository), day);

-- The same figures summed over repositories: what the scorecard reads, a few rows per
-- task and day however many repositories and runs there are.
CREATE TABLE task_daily (
    day                       date    NOT NULL,
    task                      text    NOT NULL,
    kind                      text    NOT NULL,
    version                   text,
    runs                      integer NOT NULL,
    success                   integer NOT NULL,
    failure                   integer NOT NULL,
    timed_out                 integer NOT NULL,
    cancelled                 integer NOT NULL,
    skipped                   integer NOT NULL,
    unfinished                integer NOT NULL,
    timed_runs                integer NOT NULL,
    duration_buckets          integer[] NOT NULL,
    duration_counts           bigint[]  NOT NULL,
    duration_sums             bigint[]  NOT NULL,
    first_successes           integer NOT NULL,
    attempts_to_first_success integer NOT NULL
);
CREATE UNIQUE INDEX task_daily_key ON task_daily (day, task, kind, coalesce(version, ''));

-- Where the last refresh got to. No row, or no watermark, means "rebuild everything".
CREATE TABLE heat_rollup_state (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark    timestamptz,
    refreshed_at timestamptz,
    cells        integer
);

-- Recompute the roll-up rows of the cells in the temporary table heat_cells
-- (day, repository, task); task_daily follows for each (day, task) touched.
CREATE FUNCTION heat_rollup_cells() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_repository_daily AS d
    USING heat_cells AS c
    WHERE d.day = c.day AND d.repository = c.repository AND d.task = c.task;

    INSERT INTO task_repository_daily
    WITH cell_runs AS (
        SELECT c.day, r.repository, r.task, r.kind, coalesce(r.version, '') AS v,
               r.outcome, r.duration_ms, r.pull_request, r.run_id,
               r.outcome IN ('success', 'failure', 'timed_out') AND r.duration_ms IS NOT NULL
                   AND r.closed_by IS DISTINCT FROM 'workflow_job' AS timed
        FROM heat_cells AS c
        JOIN task_runs AS r
          ON r.repository = c.repository AND r.task = c.task
         AND r.started_at >= c.day::timestamp AT TIME ZONE 'UTC'
         AND r.started_at < (c.day + 1)::timestamp AT TIME ZONE 'UTC'
    ), counts AS (
        SELECT day, repository, task, kind, v,
               count(*) AS runs,
               count(*) FILTER (WHERE outcome = 'success') AS success,
               count(*) FILTER (WHERE outcome = 'failure') AS failure,
               count(*) FILTER (WHERE outcome = 'timed_out') AS timed_out,
               count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
               count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
               count(*) FILTER (WHERE outcome IS NULL) AS unfinished,
               count(*) FILTER (WHERE timed) AS timed_runs
        FROM cell_runs
        GROUP BY day, repository, task, kind, v
    ), buckets AS (
        SELECT day, repository, task, kind, v, heat_duration_bucket(duration_ms) AS bucket,
               count(*) AS n, sum(duration_ms)::bigint AS total
        FROM cell_runs
        WHERE timed
        GROUP BY day, repository, task, kind, v, bucket
    ), digests AS (
        SELECT day, repository, task, kind, v,
               array_agg(bucket ORDER BY bucket) AS buckets,
               array_agg(n ORDER BY bucket) AS counts,
               array_agg(total ORDER BY bucket) AS sums
        FROM buckets
        GROUP BY day, repository, task, kind, v
    ), succeeded AS (
        -- The changes that succeeded in the touched cells: only their runs can make a
        -- first success there. A change is the pull request when the run belongs to
        -- one (as the PR comment counts), else the workflow run with its re-runs; both
        -- are found through an index, however long the repository's history.
        SELECT DISTINCT repository, task, pull_request,
               CASE WHEN pull_request IS NULL THEN run_id END AS run_id
        FROM cell_runs
        WHERE outcome = 'success'
    ), bounds AS (
        SELECT (min(day) - 28)::timestamp AT TIME ZONE 'UTC' AS low,
               (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS high
        FROM heat_cells
    ), history AS (
        -- Those changes' finished runs (skipped ones were never tried) up to 28 days
        -- before: enough to tell first successes and count their attempts.
        SELECT r.repository, r.task, r.kind, coalesce(r.version, '') AS v, r.outcome,
               r.started_at, 'pr ' || r.pull_request AS change
        FROM succeeded AS s
        CROSS JOIN bounds AS b
        JOIN task_runs AS r
          ON r.repository = s.repository AND r.pull_request = s.pull_request AND r.task = s.task
        WHERE s.pull_request IS NOT NULL
          AND r.started_at >= b.low AND r.started_at < b.high
          AND r.outcome IS NOT NULL AND r.outcome <> 'skipped'
        UNION ALL
        SELECT r.repository, r.task, r.kind, coalesce(r.version, '') AS v, r.outcome,
               r.started_at, 'run ' || r.run_id AS change
        FROM succeeded AS s
        CROSS JOIN bounds AS b
        JOIN task_runs AS r
          ON r.repository = s.repository AND r.run_id = s.run_id AND r.task = s.task
        WHERE s.pull_request IS NULL AND r.pull_request IS NULL
          AND r.started_at >= b.low AND r.started_at < b.high
          AND r.outcome IS NOT NULL AND r.outcome <> 'skipped'
    ), attempts AS (
        SELECT repository, task, kind, v, outcome, heat_day(started_at) AS day,
               count(*) OVER recent AS attempts,
               count(*) FILTER (WHERE outcome = 'success') OVER recent AS successes
        FROM history
        WINDOW recent AS (
            PARTITION BY repository, task, change ORDER BY started_at
            RANGE BETWEEN interval '28 days' PRECEDING AND CURRENT ROW
        )
    ), firsts AS (
        SELECT a.day, a.repository, a.task, a.kind, a.v,
               count(*) AS first_successes, sum(a.attempts) AS attempts
        FROM attempts AS a
        WHERE a.outcome = 'success' AND a.successes = 1
          AND EXISTS (
              SELECT 1 FROM heat_cells AS c
              WHERE c.repository = a.repository AND c.task = a.task AND c.day = a.day
          )
        GROUP BY a.day, a.repository, a.task, a.kind, a.v
    )
    SELECT c.day, c.repository, c.task, c.kind, nullif(c.v, ''),
           c.runs, c.success, c.failure, c.timed_out, c.cancelled, c.skipped, c.unfinished,
           c.timed_runs,
           coalesce(d.buckets, '{}'), coalesce(d.counts, '{}'), coalesce(d.sums, '{}'),
           coalesce(f.first_successes, 0), coalesce(f.attempts, 0)
    FROM counts AS c
    LEFT JOIN digests AS d USING (day, repository, task, kind, v)
    LEFT JOIN firsts AS f USING (day, repository, task, kind, v);

    DELETE FROM task_daily AS d
    USING (SELECT DISTINCT day, task FROM heat_cells) AS t
    WHERE d.day = t.day AND d.task = t.task;

    INSERT INTO task_daily
    WITH source AS (
        SELECT r.*, coalesce(r.version, '') AS v
        FROM (SELECT DISTINCT day, task FROM heat_cells) AS t
        JOIN task_repository_daily AS r ON r.day = t.day AND r.task = t.task
    ), sums AS (
        SELECT day, task, kind, v,
               sum(runs) AS runs, sum(success) AS success, sum(failure) AS failure,
               sum(timed_out) AS timed_out, sum(cancelled) AS cancelled,
               sum(skipped) AS skipped, sum(unfinished) AS unfinished,
               sum(timed_runs) AS timed_runs, sum(first_successes) AS first_successes,
               sum(attempts_to_first_success) AS attempts
        FROM source
        GROUP BY day, task, kind, v
    ), buckets AS (
        SELECT s.day, s.task, s.kind, s.v, u.bucket, sum(u.n)::bigint AS n,
               sum(u.total)::bigint AS total
        FROM source AS s
        CROSS JOIN LATERAL unnest(s.duration_buckets, s.duration_counts, s.duration_sums)
            AS u(bucket, n, total)
        GROUP BY s.day, s.task, s.kind, s.v, u.bucket
    ), digests AS (
        SELECT day, task, kind, v,
               array_agg(bucket ORDER BY bucket) AS buckets,
               array_agg(n ORDER BY bucket) AS counts,
               array_agg(total ORDER BY bucket) AS sums
        FROM buckets
        GROUP BY day, task, kind, v
    )
    SELECT s.day, s.task, s.kind, nullif(s.v, ''),
           s.runs, s.success, s.failure, s.timed_out, s.cancelled, s.skipped, s.unfinished,
           s.timed_runs,
           coalesce(d.buckets, '{}'), coalesce(d.counts, '{}'), coalesce(d.sums, '{}'),
           s.first_successes, s.attempts
    FROM sums AS s
    LEFT JOIN digests AS d USING (day, task, kind, v);
END
$$;

-- Bring the roll-ups up to date with task_runs; return how many cells were recomputed,
-- or NULL when another session is refreshing them right now.
CREATE FUNCTION heat_refresh_rollups(rebuild boolean DEFAULT false) RETURNS integer
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
            WHERE started_at < heat_day(started)::timestamp AT TIME ZONE 'UTC'
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

-- One row per happiness response and task it rates: the task it names, or, when it names
-- none, each task that ran on its pull request. The pull request's runs are found by the
-- repository's name as the webhook and the reports spell it (both GitHub's own spelling,
-- which agree unless the repository was renamed in between), through the index on
-- (repository, pull_request).
CREATE VIEW heat_happiness_by_task AS
SELECT h.comment_id, h.repository, h.pull_request, h.author, h.task, h.score, h.words,
       h.created_at, true AS task_named
FROM happiness AS h
WHERE h.task IS NOT NULL
UNION ALL
SELECT h.comment_id, h.repository, h.pull_request, h.author, t.task, h.score, h.words,
       h.created_at, false AS task_named
FROM happiness AS h
CROSS JOIN LATERAL (
    SELECT DISTINCT r.task FROM task_runs AS r
    WHERE r.repository = h.repository AND r.pull_request = h.pull_request
) AS t
WHERE h.task IS NULL;

-- Every HEAT figure per task for the UTC days [since, until), from the roll-ups:
-- by ISO week when by_week (period_start is the week's Monday), per version when
-- by_version, for one repository (any of its names, any case) when only_repository is
-- set, for one kind when only_kind is. Adoption compares with the repositories where
-- the App is installed now; repositories that ran the task without it are counted apart
-- in outside_app_repositories. Happiness is left out of per-version rows.
CREATE FUNCTION heat_figures(
    since date,
    until date,
    by_week boolean DEFAULT false,
    by_version boolean DEFAULT false,
    only_repository text DEFAULT NULL,
    only_kind text DEFAULT NULL
) RETURNS TABLE (
    period_start              date,
    task                      text,
    version                   text,
    kind                      text,
    first_day                 date,
    last_day                  date,
    runs                      bigint,
    success                   bigint,
    failure                   bigint,
    timed_out                 bigint,
    cancelled                 bigint,
    skipped                   bigint,
    unfinished                bigint,
    success_rate              numeric,
    timed_runs                bigint,
    p50_ms                    double precision,
    p90_ms                    double precision,
    first_successes           bigint,
    attempts_to_first_success numeric,
    repositories              bigint,
    adopting_repositories     bigint,
    outside_app_repositories  bigint,
    installed_repositories    bigint,
    adoption_share            numeric,
    happiness_mean            numeric,
    happiness_responses       bigint
)
LANGUAGE sql STABLE AS $$
    WITH
    wanted AS (
        -- The lower-cased names the repository filter matches: its own and its old ones.
        SELECT heat_repository_key(only_repository) AS key
        WHERE only_repository IS NOT NULL
        UNION
        SELECT old_key FROM repository_renames
        WHERE only_repository IS NOT NULL AND new_key = heat_repository_key(only_repository)
    ),
    installed AS (
        SELECT repository_key FROM heat_installed_repositories
        WHERE only_repository IS NULL OR repository_key IN (SELECT key FROM wanted)
    ),
    daily AS (
        SELECT day, task, kind, version, runs, success, failure, timed_out, cancelled,
               skipped, unfinished, timed_runs, duration_buckets, duration_counts,
               duration_sums, first_successes, attempts_to_first_success
        FROM task_daily
        WHERE only_repository IS NULL AND day >= since AND day < until
          AND (only_kind IS NULL OR kind = only_kind)
        UNION ALL
        SELECT day, task, kind, version, runs, success, failure, timed_out, cancelled,
               skipped, unfinished, timed_runs, duration_buckets, duration_counts,
               duration_sums, first_successes, attempts_to_first_success
        FROM task_repository_daily
        WHERE only_repository IS NOT NULL AND lower(repository) IN (SELECT key FROM wanted)
          AND day >= since AND day < until AND (only_kind IS NULL OR kind = only_kind)
    ),
    keyed AS (
        SELECT CASE WHEN by_week THEN heat_week(day) ELSE since END AS period_start,
               task,
               CASE WHEN by_version THEN coalesce(version, '') ELSE '' END AS v,
               day, kind, runs, success, failure, timed_out, cancelled, skipped, unfinished,
               timed_runs, duration_buckets, duration_counts, duration_sums,
               first_successes, attempts_to_first_success
        FROM daily
    ),
    kinds AS (
        -- A task's kind is the one most of its runs reported.
        SELECT DISTINCT ON (period_start, task, v) period_start, task, v, kind
        FROM (
            SELECT period_start, task, v, kind, sum(runs) AS n
            FROM keyed GROUP BY period_start, task, v, kind
        ) AS per_kind
        ORDER BY period_start, task, v, n DESC, kind
    ),
    counts AS (
        SELECT period_start, task, v, min(day) AS first_day, max(day) AS last_day,
               sum(runs)::bigint AS runs, sum(success)::bigint AS success,
               sum(failure)::bigint AS failure, sum(timed_out)::bigint AS timed_out,
               sum(cancelled)::bigint AS cancelled, sum(skipped)::bigint AS skipped,
               sum(unfinished)::bigint AS unfinished, sum(timed_runs)::bigint AS timed_runs,
               sum(first_successes)::bigint AS first_successes,
               sum(attempts_to_first_success)::bigint AS attempts
        FROM keyed
        GROUP BY period_start, task, v
    ),
    merged_buckets AS (
        -- The days' digests added up per bucket before any array is built.
        SELECT k.period_start, k.task, k.v, u.bucket,
               sum(u.n)::bigint AS n, sum(u.total)::bigint AS total
        FROM keyed AS k
        CROSS JOIN LATERAL unnest(k.duration_buckets, k.duration_counts, k.duration_sums)
            AS u(bucket, n, total)
        GROUP BY k.period_start, k.task, k.v, u.bucket
    ),
    durations AS (
        SELECT period_start, task, v,
               heat_digest_percentiles(
                   array_agg(bucket), array_agg(n), array_agg(total), '{0.5,0.9}'
               ) AS p
        FROM merged_buckets
        GROUP BY period_start, task, v
    ),
    repository_names AS (
        -- Each name as reported once per period, task and version: names are few, day
        -- rows many, so they are mapped to repositories only after this.
        SELECT DISTINCT
               CASE WHEN by_week THEN heat_week(d.day) ELSE since END AS period_start,
               d.task,
               CASE WHEN by_version THEN coalesce(d.version, '') ELSE '' END AS v,
               d.repository
        FROM task_repository_daily AS d
        WHERE d.day >= since AND d.day < until
          AND (only_kind IS NULL OR d.kind = only_kind)
          AND (only_repository IS NULL OR lower(d.repository) IN (SELECT key FROM wanted))
    ),
    repositories AS (
        SELECT r.period_start, r.task, r.v,
               count(DISTINCT coalesce(ren.new_key, lower(r.repository))) AS repositories,
               count(DISTINCT coalesce(ren.new_key, lower(r.repository)))
                   FILTER (WHERE i.repository_key IS NOT NULL) AS adopting
        FROM repository_names AS r
        LEFT JOIN repository_renames AS ren ON ren.old_key = lower(r.repository)
        LEFT JOIN installed AS i
          ON i.repository_key = coalesce(ren.new_key, lower(r.repository))
        GROUP BY r.period_start, r.task, r.v
    ),
    happy AS (
        SELECT CASE WHEN by_week THEN heat_week(heat_day(h.created_at)) ELSE since END
                   AS period_start,
               h.task, '' AS v,
               round(avg(h.score), 2) AS mean, count(*) AS responses
        FROM heat_happiness_by_task AS h
        LEFT JOIN repository_renames AS ren ON ren.old_key = lower(h.repository)
        WHERE NOT by_version
          AND h.created_at >= since::timestamp AT TIME ZONE 'UTC'
          AND h.created_at < until::timestamp AT TIME ZONE 'UTC'
          AND (only_repository IS NULL
               OR coalesce(ren.new_key, lower(h.repository)) IN (SELECT key FROM wanted))
        GROUP BY 1, h.task
    ),
    installed_count AS (
        SELECT count(*) AS n FROM installed
    )
    SELECT coalesce(c.period_start, h.period_start),
           coalesce(c.task, h.task),
           CASE WHEN by_version THEN nullif(coalesce(c.v, h.v), '') END,
           k.kind,
           c.first_day,
           c.last_day,
           coalesce(c.runs, 0), coalesce(c.success, 0), coalesce(c.failure, 0),
           coalesce(c.timed_out, 0), coalesce(c.cancelled, 0), coalesce(c.skipped, 0),
           coalesce(c.unfinished, 0),
           round(c.success::numeric / nullif(c.success + c.failure + c.timed_out, 0), 4),
           coalesce(c.timed_runs, 0),
           d.p[1],
           d.p[2],
           coalesce(c.first_successes, 0),
           round(c.attempts::numeric / nullif(c.first_successes, 0), 2),
           coalesce(r.repositories, 0),
           coalesce(r.adopting, 0),
           coalesce(r.repositories - r.adopting, 0),
           n.n,
           round(coalesce(r.adopting, 0)::numeric / nullif(n.n, 0), 4),
           h.mean,
           coalesce(h.responses, 0)
    FROM counts AS c
    FULL JOIN happy AS h USING (period_start, task, v)
    LEFT JOIN kinds AS k
      ON k.period_start = c.period_start AND k.task = c.task AND k.v = c.v
    LEFT JOIN durations AS d
      ON d.period_start = c.period_start AND d.task = c.task AND d.v = c.v
    LEFT JOIN repositories AS r
      ON r.period_start = c.period_start AND r.task = c.task AND r.v = c.v
    CROSS JOIN installed_count AS n
    -- With a kind filter, a task shows only if it ran with that kind.
    WHERE only_kind IS NULL OR c.task IS NOT NULL
$$;

-- Per task and ISO week: the four HEAT metrics side by side, over all history.
CREATE VIEW heat_weekly AS
SELECT period_start AS week,
       to_char(period_start, 'IYYY-"W"IW') AS iso_week,
       task, kind, runs, success, failure, timed_out, cancelled, skipped, unfinished,
       success_rate, timed_runs, p50_ms, p90_ms, first_successes, attempts_to_first_success,
       repositories, adopting_repositories, outside_app_repositories, installed_repositories,
       adoption_share, happiness_mean, happiness_responses
FROM heat_figures('-infinity', 'infinity', by_week => true);

-- The last 28 UTC days (today included) against the 28 days before, per task, with the
-- change of each metric: differences for counts, rates and scores (a success rate or an
-- adoption share moves in fractions: 0.05 is five points), percent for durations.
CREATE VIEW heat_scorecard AS
WITH bounds AS (
    SELECT heat_day(now()) + 1 AS until
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

-- Per task and version over the last 28 UTC days: which versions ran, where, and how well,
-- so a rollout can be followed and a new version compared with the old.
CREATE VIEW heat_versions AS
WITH bounds AS (
    SELECT heat_day(now()) + 1 AS until
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

-- Adoption per task over the last 28 UTC days: repositories that ran it where the App is
-- installed, against the repositories where it is installed now (never over 100 %), and
-- apart from them the repositories that ran it without the App. Replaces 003's version,
-- which mixed the two and counted suspended and deleted installations.
DROP VIEW task_adoption;
CREATE VIEW task_adoption AS
SELECT f.task, f.kind, f.adopting_repositories, f.installed_repositories, f.adoption_share,
       f.outside_app_repositories, f.repositories, f.last_day AS last_run_on
FROM (SELECT heat_day(now()) + 1 AS until) AS bounds,
     heat_figures(bounds.until - 28, bounds.until) AS f
WHERE f.runs > 0;

-- Repositories that ran platform tasks in the last 28 UTC days without the App installed
-- (HMAC-signed reports, or a suspended or removed installation): shown apart, not counted
-- in adoption.
CREATE VIEW heat_outside_app AS
WITH recent AS (
    -- Summed per name as reported first: names are few, day rows many.
    SELECT repository, task, sum(runs) AS runs, max(day) AS last_day
    FROM task_repository_daily
    WHERE day > heat_day(now()) - 28
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
