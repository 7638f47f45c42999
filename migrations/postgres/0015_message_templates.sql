-- A message keeps the template version it was rendered from (history joins the name).
ALTER TABLE messages ADD COLUMN template_id UUID;
ALTER TABLE messages ADD COLUMN template_version INTEGER;

-- Scheduled messages (send_at, quiet hours) are claimed like pending ones once due.
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status IN ('pending', 'scheduled');
