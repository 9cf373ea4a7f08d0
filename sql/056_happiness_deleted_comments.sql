-- Rating comments deleted on GitHub, by comment id: a tombstone each.
--
-- GitHub delivers webhooks in no particular order. An `edited` delivery of a comment
-- may arrive after its `deleted` one; with the response already deleted, nothing told
-- the late edit that the rating was gone, and it stored it again. A deleted comment
-- never comes back on GitHub (ids are not reused), so its tombstone is kept for good:
-- a handful of bytes per deleted rating.
CREATE TABLE happiness_deleted_comments (
    comment_id bigint      PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
