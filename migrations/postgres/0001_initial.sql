-- herald's initial schema (PostgreSQL).

CREATE TABLE accounts (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX accounts_one_default ON accounts (is_default) WHERE is_default;

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    key_hash    BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- The message row is the job: status, attempts, schedule and lease live here.
CREATE TABLE messages (
    id                   UUID PRIMARY KEY,
    account_id           UUID NOT NULL REFERENCES accounts (id),
    channel              TEXT NOT NULL,
    recipient            TEXT NOT NULL,
    sender               TEXT,
    body                 TEXT NOT NULL,
    user_id              TEXT,
    status               TEXT NOT NULL,
    retry_count          INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    next_attempt_at      TIMESTAMPTZ,
    lease_owner          TEXT,
    lease_expires_at     TIMESTAMPTZ,
    provider             TEXT,
    provider_message_id  TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    sent_at              TIMESTAMPTZ
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX messages_leased ON messages (lease_expires_at) WHERE status = 'sending';
CREATE INDEX messages_account_created ON messages (account_id, created_at);

CREATE TABLE message_events (
    id          BIGSERIAL PRIMARY KEY,
    message_id  UUID NOT NULL REFERENCES messages (id),
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

-- Transactional outbox: written in the same transaction as the state it describes.
-- `sequence` is the feed cursor; `published_at` is set by the relay.
CREATE TABLE outbox (
    sequence      BIGSERIAL PRIMARY KEY,
    event_id      UUID NOT NULL UNIQUE,
    account_id    UUID NOT NULL REFERENCES accounts (id),
    event_type    TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    user_id       TEXT,
    payload       JSONB NOT NULL,
    metadata      JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    published_at  TIMESTAMPTZ
);
CREATE INDEX outbox_account_sequence ON outbox (account_id, sequence);
CREATE INDEX outbox_unpublished ON outbox (sequence) WHERE published_at IS NULL;
