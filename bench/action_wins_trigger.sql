-- The action-wins trigger's cost on inserting action reports (sql/010), against the same
-- insert with the trigger disabled, in the same run. On a migrated, empty database:
--   psql "$DATABASE_URL" -q -f bench/action_wins_trigger.sql
-- It empties task_runs and task_definitions: never run it on a database you keep.
CREATE TEMP VIEW src AS SELECT 'org/r' || (g % 200) AS repository, g AS run_id FROM generate_series(1, 20000) g;
TRUNCATE task_runs, task_definitions;
ALTER TABLE task_runs DISABLE TRIGGER task_runs_action_wins;
\timing on
\echo no_trigger
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at, auth_method) SELECT repository, 'CI', run_id, 1, 'deploy', 'deploy', 'deploy', 's', now(), 'hmac' FROM src;
\timing off
TRUNCATE task_runs;
ALTER TABLE task_runs ENABLE TRIGGER task_runs_action_wins;
\timing on
\echo trigger_no_definition
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at, auth_method) SELECT repository, 'CI', run_id, 1, 'deploy', 'deploy', 'deploy', 's', now(), 'hmac' FROM src;
\timing off
TRUNCATE task_runs;
INSERT INTO task_definitions (name, kind, step_pattern, pattern_syntax) VALUES ('deploy', 'deploy', 'Deploy*', 'glob');
\timing on
\echo trigger_with_definition
INSERT INTO task_runs (repository, workflow, run_id, run_attempt, job, task, kind, step_id, started_at, auth_method) SELECT repository, 'CI', run_id, 1, 'deploy', 'deploy', 'deploy', 's', now(), 'hmac' FROM src;
TRUNCATE task_runs, task_definitions;
