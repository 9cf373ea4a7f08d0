-- What outages leave behind: comment writes (and reactions, replies) GitHub keeps
-- refusing, failed webhook deliveries to ask for again, and how long delivery ids are
-- remembered.

-- A write GitHub refuses (a 4xx no retry mends, or our own crash) counts a refusal;
-- past HEATMETER_OUTBOX_MAX_REFUSALS in a row it is abandoned: kept with its error,
-- no longer tried, until a new request for the PR starts it afresh. Outages (5xx,
-- rate limits, network) only delay a write and never count.
ALTER TABLE comment_outbox
    ADD COLUMN refusals      integer     NOT NULL DEFAULT 0,
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN abandoned_at  timestamptz;

-- Writes being retried; abandoned ones have a view of their own.
CREATE OR REPLACE VIEW comment_outbox_failing AS
SELECT repository, pull_request, attempts, last_error, not_before, first_requested_at,
       refusals, failing_since
FROM comment_outbox
WHERE last_error IS NOT NULL AND abandoned_at IS NULL;

CREATE VIEW comment_outbox_abandoned AS
SELECT repository, pull_request, attempts, refusals, last_error, failing_since, abandoned_at
FROM comment_outbox
WHERE abandoned_at IS NOT NULL;

-- The reactions and replies owed to rating comments (006) follow the same rule.
ALTER TABLE comment_feedback
    ADD COLUMN refusals     integer     NOT NULL DEFAULT 0,
    ADD COLUMN abandoned_at timestamptz;

CREATE VIEW comment_feedback_abandoned AS
SELECT comment_id, kind, repository, pull_request, attempts, refusals, last_error, abandoned_at
FROM comment_feedback
WHERE abandoned_at IS NOT NULL;

-- Retention: deliveries older than HEATMETER_WEBHOOK_RETENTION are pruned by age.
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);

-- Failed deliveries the sweeper asked GitHub to send again, one row per delivery (its
-- X-GitHub-Delivery guid). `attempt_id` is GitHub's id of the failed attempt last asked
-- about: a replica asks only about a newer failed attempt, so no attempt is asked twice.
CREATE TABLE webhook_redeliveries (
    guid               text        PRIMARY KEY,
    attempt_id         bigint      NOT NULL,
    event              text        NOT NULL,
    action             text,
    requests           integer     NOT NULL DEFAULT 1,
    first_requested_at timestamptz NOT NULL DEFAULT now(),
    requested_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_redeliveries_requested_at ON webhook_redeliveries (requested_at);

-- The sweeper's one row: a lease, so replicas take turns, and how far back the last
-- complete sweep saw, so the next one lists only what is new (plus an overlap).
CREATE TABLE webhook_delivery_sweeps (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at   timestamptz NOT NULL,
    locked_until timestamptz,
    swept_until  timestamptz,
    finished_at  timestamptz,
    redelivered  integer     NOT NULL DEFAULT 0,
    last_error   text
);
