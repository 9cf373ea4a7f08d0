-- One row per execution of a platform task in one job attempt.
-- A `start` report creates the row with no outcome; the `finish` report (or the
-- workflow_job webhook, for a job that died first) completes it.
CREATE TABLE task_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository    text        NOT NULL,
    workflow      text        NOT NULL,
    run_id        bigint      NOT NULL,
    run_attempt   integer     NOT NULL CHECK (run_attempt >= 1),
    job           text        NOT NULL,
    task          text        NOT NULL,
    kind          text        NOT NULL
        CHECK (kind IN ('scaffolding', 'deploy', 'provisioning', 'other')),
    step_id       text        NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    duration_ms   bigint      CHECK (duration_ms >= 0),
    outcome       text
        CHECK (outcome IN ('success', 'failure', 'cancelled', 'timed_out', 'skipped')),
    exit_code     integer,
    sha           text,
    ref           text,
    head_ref      text,
    pull_request  integer     CHECK (pull_request >= 1),
    event_name    text,
    runner_os     text,
    runner_name   text,
    actor         text,
    -- Nothing unauthenticated is stored: how this row's reporter proved itself.
    auth_method   text        NOT NULL CHECK (auth_method IN ('hmac', 'oidc')),
    -- 'report' when the action said how it ended, 'workflow_job' when the job's
    -- webhook closed a task the action never finished.
    closed_by     text        CHECK (closed_by IN ('report', 'workflow_job')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_runs_idempotency
        UNIQUE (repository, run_id, run_attempt, job, task, step_id),
    CONSTRAINT task_runs_finished_has_outcome
        CHECK ((outcome IS NULL) = (finished_at IS NULL))
);

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
