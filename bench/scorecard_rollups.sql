-- The scorecard's roll-ups and views on a generated history, timed (psql's \timing).
-- Run against a scratch database migrated to the latest schema, e.g.
--   createdb heat_bench && heatmeter migrate (with DATABASE_URL pointing at it)
--   psql "$DATABASE_URL" -v runs=1000000 -v repos=200 -v tasks=20 -f bench/scorecard_rollups.sql
-- It deletes and rewrites task_runs, installations and the roll-ups of that database.
\set ON_ERROR_STOP on
\if :{?runs}
\else
\set runs 1000000
\endif
\if :{?repos}
\else
\set repos 200
\endif
\if :{?tasks}
\else
\set tasks 20
\endif
SET client_min_messages = warning;
TRUNCATE task_runs, installations, installation_repositories, happiness, task_daily,
    task_repository_daily, heat_rollup_state CASCADE;

-- :runs runs over 90 days, :repos repositories (three in four with the App), :tasks
-- tasks, two versions; three runs in four belong to one of 5,000 pull requests.
INSERT INTO task_runs (
    repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at,
    finished_at, duration_ms, outcome, sha, pull_request, version, auth_method, closed_by,
    updated_at
)
SELECT 'org/repo-' || (g % :repos), 'CI', g, 1, 'job', 'task-' || ((g / 7) % :tasks),
       'deploy', 'step',
       started, started + make_interval(secs => ms / 1000.0), ms, outcome,
       md5(g::text), CASE WHEN g % 4 <> 0 THEN 1 + (g / 7) % 5000 END,
       CASE WHEN random() < 0.3 THEN 'v2' ELSE 'v1' END, 'hmac', 'report',
       now() - interval '1 hour'
FROM (
    SELECT g, now() - random() * interval '90 days' AS started,
           (30000 * exp(random() * 2))::bigint AS ms,
           (ARRAY['success', 'success', 'success', 'success', 'success', 'success',
                  'failure', 'cancelled', 'skipped', 'timed_out'])[1 + (random() * 9)::int]
               AS outcome
    FROM generate_series(1, :runs) AS g
) AS s;
INSERT INTO installations VALUES (1, 'org');
INSERT INTO installation_repositories (installation_id, repository)
SELECT 1, 'org/repo-' || i FROM generate_series(0, :repos * 3 / 4 - 1) AS i;
INSERT INTO happiness (comment_id, repository, pull_request, author, task, score,
    created_at, updated_at)
SELECT i, 'org/repo-' || (i % :repos), 1 + i % 5000, 'dev',
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'task-' || (i % :tasks) END, 1 + i % 5,
       now() - (i % 90) * interval '1 day', now()
FROM generate_series(1, 2000) AS i;
VACUUM ANALYZE task_runs;

\timing on
\echo '-- the first refresh builds every cell'
SELECT heat_refresh_rollups();
\echo '-- nothing changed'
SELECT heat_refresh_rollups();
\echo '-- 2,000 new reports today, then a refresh'
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id,
    started_at, finished_at, duration_ms, outcome, auth_method, closed_by)
SELECT 'org/repo-' || (g % :repos), 'CI', 100000000 + g, 1, 'job',
       'task-' || ((g / 7) % :tasks), 'deploy', 'step', now() - interval '1 minute', now(),
       60000, 'success', 'hmac', 'report'
FROM generate_series(1, 2000) AS g;
SELECT heat_refresh_rollups();
VACUUM ANALYZE task_repository_daily, task_daily;
\echo '-- the views, each read whole twice (the second time warm); rows go to /dev/null'
SELECT * FROM heat_scorecard \g /dev/null
SELECT * FROM heat_scorecard \g /dev/null
SELECT * FROM heat_weekly \g /dev/null
SELECT * FROM heat_weekly \g /dev/null
SELECT * FROM heat_versions \g /dev/null
SELECT * FROM heat_versions \g /dev/null
SELECT * FROM task_adoption \g /dev/null
SELECT * FROM task_adoption \g /dev/null
SELECT * FROM heat_outside_app \g /dev/null
SELECT * FROM heat_outside_app \g /dev/null
\echo '-- one repository (any case) over 28 days'
SELECT * FROM heat_figures(heat_day(now()) - 27, heat_day(now()) + 1,
                           only_repository => 'ORG/repo-7') \g /dev/null
\timing off
SELECT (SELECT count(*) FROM task_repository_daily) AS repository_day_rows,
       (SELECT count(*) FROM task_daily) AS task_day_rows,
       pg_size_pretty(pg_total_relation_size('task_repository_daily')) AS repository_day_size,
       pg_size_pretty(pg_total_relation_size('task_daily')) AS task_day_size;
