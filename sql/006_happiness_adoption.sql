-- Happiness and adoption (issue 7): the facts the H and the A of HEAT are computed from.

-- A platform task's own version (the action's `version` input, e.g. `v3` of the deploy
-- step), so a rollout can be followed. NULL when the action was not given one.
ALTER TABLE task_runs ADD COLUMN version text
    CHECK (char_length(version) BETWEEN 1 AND 100);

-- One response per `/heatmeter rate N [task] [words]` comment on a pull request: an edit
-- of the comment updates its row, a deletion deletes it. `words` are kept as written
-- (escaped wherever they are shown); `task` is NULL when the comment names none, and
-- then the response rates every task that ran on that pull request.
CREATE TABLE happiness (
    comment_id   bigint      PRIMARY KEY,
    repository   text        NOT NULL,
    pull_request integer     NOT NULL CHECK (pull_request >= 1),
    author       text        NOT NULL,
    task         text        CHECK (char_length(task) BETWEEN 1 AND 100),
    score        smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    words        text        CHECK (char_length(words) BETWEEN 1 AND 2000),
    comment_url  text,
    -- The comment's own times on GitHub's clock; updated_at orders edits, so an older
    -- edit delivered late never overwrites a newer one.
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX happiness_created ON happiness (created_at);
CREATE INDEX happiness_pull_request ON happiness (repository, pull_request);

-- What heatmeter owes a rating comment on GitHub: a reaction acknowledging a stored
-- response, or one reply showing the syntax to a malformed command. Written by a worker,
-- never inside the webhook request; a failing write stays with its error and is retried.
-- Done rows are kept (done_at set) because they are the memory that makes it one reply
-- and one reaction per comment, however often the comment is edited or redelivered.
CREATE TABLE comment_feedback (
    comment_id   bigint      NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('reaction', 'reply')),
    repository   text        NOT NULL,
    pull_request integer     NOT NULL CHECK (pull_request >= 1),
    -- For a reply: what was wrong with the command, in heatmeter's words (never the user's).
    detail       text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    not_before   timestamptz,
    locked_until timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    done_at      timestamptz,
    PRIMARY KEY (comment_id, kind)
);
CREATE INDEX comment_feedback_pending ON comment_feedback (requested_at) WHERE done_at IS NULL;

-- Repository names are case-insensitive on GitHub: `Octo/App` and `octo/app` are one
-- repository. Adoption compares lower-cased names; this index serves that comparison.
CREATE INDEX installation_repositories_lower ON installation_repositories (lower(repository));

-- A repository renamed or transferred keeps its history: runs reported under the old
-- name count for the new one. Keys are lower-cased names; chains (a → b → c) are kept
-- flat by the webhook handler, so one lookup gives the current name.
CREATE TABLE repository_renames (
    old_key    text        PRIMARY KEY,
    new_key    text        NOT NULL,
    renamed_at timestamptz NOT NULL DEFAULT now(),
    CHECK (old_key = lower(old_key) AND new_key = lower(new_key) AND old_key <> new_key)
);

-- The current, lower-cased name of a repository known by any of its names.
CREATE FUNCTION heat_repository_key(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT new_key FROM repository_renames WHERE old_key = lower(name)), lower(name)
    )
$$;

-- The denominator of adoption: repositories where the App is installed now, through an
-- installation that is neither suspended nor deleted. One row per repository, however
-- many installations name it (lower-cased name in `repository_key`).
CREATE VIEW heat_installed_repositories AS
SELECT
    heat_repository_key(r.repository)     AS repository_key,
    min(r.repository)                     AS repository,
    min(r.added_at)                       AS added_at
FROM installation_repositories AS r
JOIN installations AS i USING (installation_id)
WHERE i.suspended_at IS NULL AND i.deleted_at IS NULL
GROUP BY heat_repository_key(r.repository);
