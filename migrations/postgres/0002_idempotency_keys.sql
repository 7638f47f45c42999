-- Idempotency keys (Stripe semantics): one row per account and client key. `state` is
-- 'in_flight' while the first request runs and 'done' with its stored response after.
CREATE TABLE idempotency_keys (
    account_id       UUID NOT NULL REFERENCES accounts (id),
    idempotency_key  TEXT NOT NULL,
    fingerprint      BYTEA NOT NULL,
    state            TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    message_id       UUID,
    locked_at        TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
