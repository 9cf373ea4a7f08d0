-- Where each workflow run came from, as its workflow_run webhooks (or the backfill) say:
-- the event that started it and the repository its head lives in. A workflow_job webhook
-- says neither, and a fork's branch called like the default branch looks like a push to
-- it; job steps count in the default branch's baseline only once their run is known here
-- to be this repository's own (heatmeter/jobs/origins.py). Pruned with webhook_deliveries.
CREATE TABLE workflow_run_origins (
    repository      text NOT NULL,
    run_id          bigint NOT NULL,
    event           text,
    head_repository text,
    head_branch     text,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, run_id)
);

CREATE INDEX workflow_run_origins_seen ON workflow_run_origins (seen_at);
