-- Idempotency keys (Stripe semantics): one row per account and client key. `state` is
-- 'in_flight' while the first request runs and 'done' with its stored response after.
CREATE TABLE idempotency_keys (
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    idempotency_key  TEXT NOT NULL,
    fingerprint      BLOB NOT NULL,
    state            TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    message_id       TEXT,
    locked_at        INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
