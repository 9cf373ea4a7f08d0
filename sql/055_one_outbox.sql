-- One outbox for everything heatmeter owes the outside world.
--
-- comment_outbox (the summary comment per PR, 002) and comment_feedback (the reaction or
-- syntax reply a rating comment is owed, 006) were two tables with the same columns and
-- the same life: requested in the writer's transaction, claimed under a lease with SKIP
-- LOCKED, retried after failures, abandoned after repeated refusals. They become one
-- table, one row per (kind, key): the kind says what the item is and how it is
-- performed (heatmeter/outbox/), the key which one it is, as that kind names it.
CREATE TABLE outbox (
    kind               text        NOT NULL,
    -- Which item, in the kind's own terms: {"repository": …, "pull_request": …} for a
    -- PR's comment, {"comment_id": …} for a rating's reaction or reply.
    key                jsonb       NOT NULL,
    -- What performing it needs beyond the key (where to reply, and what to say).
    detail             jsonb,
    -- Requests counted since the row was claimed: more at completion means "asked again
    -- while being performed", so the row stays for another pass (004).
    requests           bigint      NOT NULL DEFAULT 1,
    -- Start of the debounce window: a kind with a debounce waits this long after it.
    first_requested_at timestamptz NOT NULL DEFAULT now(),
    not_before         timestamptz,
    locked_until       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    -- Refusals in a row (4xx, or our own crash); outages never count (009).
    refusals           integer     NOT NULL DEFAULT 0,
    failing_since      timestamptz,
    last_error         text,
    abandoned_at       timestamptz,
    -- Kinds performed once per key keep their row, done, as the memory that it was
    -- done (one reaction per rating comment, however often it is edited).
    done_at            timestamptz,
    PRIMARY KEY (kind, key),
    CHECK (jsonb_typeof(key) = 'object')
);
-- What a worker claims: one kind's waiting items, oldest first.
CREATE INDEX outbox_waiting ON outbox (kind, first_requested_at)
    WHERE done_at IS NULL AND abandoned_at IS NULL;

INSERT INTO outbox (kind, key, requests, first_requested_at, not_before, locked_until,
                    attempts, refusals, failing_since, last_error, abandoned_at)
SELECT 'comment', jsonb_build_object('repository', repository, 'pull_request', pull_request),
       requests, first_requested_at, not_before, locked_until, attempts, refusals,
       failing_since, last_error, abandoned_at
FROM comment_outbox;

-- A reply's words were composed when it was sent; from now on they are composed when it
-- is asked for (heatmeter/happiness/feedback.py). Replies still owed are given the
-- words of this day's version, once.
INSERT INTO outbox (kind, key, detail, first_requested_at, not_before, locked_until,
                    attempts, refusals, last_error, abandoned_at, done_at)
SELECT kind, jsonb_build_object('comment_id', comment_id),
       jsonb_build_object('repository', repository, 'pull_request', pull_request)
       || CASE WHEN kind = 'reaction' THEN jsonb_build_object('content', '+1')
          ELSE jsonb_build_object('text',
              'heatmeter could not read that rating: '
              || coalesce(detail, 'the command is malformed')
              || '. The syntax is `/heatmeter rate N [task] [words]`, with N from 1 (awful) '
              || 'to 5 (great), e.g. `/heatmeter rate 4` or '
              || '`/heatmeter rate 2 deploy waited for a lock`.') END,
       requested_at, not_before, locked_until, attempts, refusals, last_error, abandoned_at,
       done_at
FROM comment_feedback;

DROP VIEW comment_outbox_failing;
DROP VIEW comment_outbox_abandoned;
DROP VIEW comment_feedback_abandoned;
DROP TABLE comment_outbox;
DROP TABLE comment_feedback;

-- What waits on a failure, and what was given up, whatever its kind.
CREATE VIEW outbox_failing AS
SELECT kind, key, detail, attempts, refusals, last_error, not_before, first_requested_at,
       failing_since
FROM outbox
WHERE last_error IS NOT NULL AND abandoned_at IS NULL AND done_at IS NULL;

CREATE VIEW outbox_abandoned AS
SELECT kind, key, detail, attempts, refusals, last_error, failing_since, abandoned_at
FROM outbox
WHERE abandoned_at IS NOT NULL;

-- The names documented before, kept: the comment kind's rows as comment_outbox showed
-- them (updatable, like the table it replaces), and the views of 009.
CREATE VIEW comment_outbox AS
SELECT key->>'repository' AS repository, (key->>'pull_request')::integer AS pull_request,
       requests, first_requested_at, not_before, locked_until, attempts, refusals,
       failing_since, last_error, abandoned_at
FROM outbox
WHERE kind = 'comment';

CREATE VIEW comment_outbox_failing AS
SELECT repository, pull_request, attempts, last_error, not_before, first_requested_at,
       refusals, failing_since
FROM comment_outbox
WHERE last_error IS NOT NULL AND abandoned_at IS NULL;

CREATE VIEW comment_outbox_abandoned AS
SELECT repository, pull_request, attempts, refusals, last_error, failing_since, abandoned_at
FROM comment_outbox
WHERE abandoned_at IS NOT NULL;

CREATE VIEW comment_feedback_abandoned AS
SELECT (key->>'comment_id')::bigint AS comment_id, kind, detail->>'repository' AS repository,
       (detail->>'pull_request')::integer AS pull_request, attempts, refusals, last_error,
       abandoned_at
FROM outbox
WHERE kind IN ('reaction', 'reply') AND abandoned_at IS NOT NULL;
