-- A message's `accepted` timeline entry is its own row (created_at, status pending): it is
-- derived when the timeline is read and no longer stored, which saves one row per message
-- at intake (a 100,000-customer campaign send wrote 100,000 of them).
DELETE FROM message_events WHERE kind = 'accepted';

-- No query reads messages by (account_id, created_at); every intake paid for it.
DROP INDEX messages_account_created;
