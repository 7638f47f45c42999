-- What the dashboard reads (GET /api/v1/overview and GET /api/v1/notifications), each an
-- index range per account. Intake pays for the first two on every insert: migration 0006
-- dropped the old (account_id, created_at) index while nothing read it. The last two hold
-- only sent and failed messages. A search by campaign goes through messages_campaign (0005)
-- and sorts that campaign's messages.

-- An account's messages newest first: the search's order, with or without a status or
-- channel filter, and the overview's count of messages accepted lately.
CREATE INDEX messages_account_recent ON messages (account_id, created_at DESC, id DESC);
-- A search for one recipient, newest first.
CREATE INDEX messages_account_recipient ON messages (account_id, recipient, created_at DESC, id DESC);
-- The overview's counts of messages sent and failed lately (a failed message's last change
-- is its failure).
CREATE INDEX messages_account_sent ON messages (account_id, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX messages_account_failed ON messages (account_id, updated_at) WHERE status = 'failed';
