-- comment_outbox.requested_at was written on every request and never read: the
-- `requests` counter (004) is what tells "asked again while I was writing".
ALTER TABLE comment_outbox DROP COLUMN requested_at;
