-- What the GitHub App's webhooks tell us, and the outbox of PR comments to write.

-- Each delivery once: a redelivered webhook finds its id here and changes nothing.
CREATE TABLE webhook_deliveries (
    delivery_id text        PRIMARY KEY,
    event       text        NOT NULL,
    action      text,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE installations (
    installation_id bigint      PRIMARY KEY,
    account         text        NOT NULL,
    suspended_at    timestamptz,
    deleted_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Repositories where the app is installed: the denominator of adoption.
CREATE TABLE installation_repositories (
    installation_id bigint      NOT NULL REFERENCES installations ON DELETE CASCADE,
    repository      text        NOT NULL,
    repository_id   bigint,
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, repository)
);
CREATE INDEX installation_repositories_repository ON installation_repositories (repository);

CREATE TABLE pull_requests (
    repository      text        NOT NULL,
    number          integer     NOT NULL CHECK (number >= 1),
    head_sha        text        NOT NULL,
    head_ref        text        NOT NULL,
    -- Branch names match reports only when the head branch lives in this repository.
    head_repository text,
    base_ref        text        NOT NULL,
    default_branch  text,
    state           text        NOT NULL CHECK (state IN ('open', 'closed')),
    merged          boolean     NOT NULL DEFAULT false,
    installation_id bigint,
    opened_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, number)
);
CREATE INDEX pull_requests_head_sha ON pull_requests (repository, head_sha);
CREATE INDEX pull_requests_open_head_ref ON pull_requests (repository, head_ref)
    WHERE state = 'open';

-- The one heatmeter comment on each PR, as last written.
CREATE TABLE pr_comments (
    repository   text        NOT NULL,
    pull_request integer     NOT NULL,
    comment_id   bigint      NOT NULL,
    body_sha256  text        NOT NULL,
    written_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pull_request)
);

-- One row per PR whose comment must be rewritten. Requests coalesce on the key, so a
-- burst of reports becomes one write; a failing write stays here with its error and
-- is retried after `not_before`, never dropped.
CREATE TABLE comment_outbox (
    repository         text        NOT NULL,
    pull_request       integer     NOT NULL,
    -- Start of the debounce window: the worker waits this long after it.
    first_requested_at timestamptz NOT NULL DEFAULT now(),
    -- Latest request; if it moves while a worker writes, the worker writes again later.
    requested_at       timestamptz NOT NULL DEFAULT now(),
    not_before         timestamptz,
    locked_until       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    last_error         text,
    PRIMARY KEY (repository, pull_request)
);
CREATE INDEX comment_outbox_due ON comment_outbox (first_requested_at);
