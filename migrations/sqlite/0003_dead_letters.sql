-- Dead letters are failed messages; list them newest first per account.
CREATE INDEX messages_dead_letters ON messages (account_id, id) WHERE status = 'failed';
