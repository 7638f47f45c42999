-- The event feed is ordered by the transaction that wrote each event, then its sequence,
-- and shows only transactions older than every one still running. A sequence is handed out
-- before commit, so ordering by it alone let an event commit behind a cursor a reader had
-- already passed (docs/adr/0008). Existing rows all get this migration's transaction: they
-- keep their order and come before every later event.
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
DROP INDEX outbox_account_sequence;
CREATE INDEX outbox_account_feed ON outbox (account_id, txid, sequence);
