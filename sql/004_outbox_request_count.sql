-- The worker tells "asked again while I was writing" by comparing what it claimed with
-- the row at completion. requested_at is now(), the asking transaction's start time:
-- two requests from transactions begun in the same microsecond would look like one.
-- A counter makes the comparison exact without any reasoning about clocks.
ALTER TABLE comment_outbox ADD COLUMN requests bigint NOT NULL DEFAULT 1;
