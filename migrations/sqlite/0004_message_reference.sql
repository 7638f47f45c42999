-- What a client attached to a message, echoed in its events: its own reference, the
-- idempotency key it was accepted under, and free metadata (JSON text).
ALTER TABLE messages ADD COLUMN reference TEXT;
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
ALTER TABLE messages ADD COLUMN client_metadata TEXT;
