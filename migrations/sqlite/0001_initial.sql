-- herald's initial schema (SQLite). Ids are UUID text, times are Unix epoch milliseconds
-- (integers compare and index exactly; SQLite has no native timestamp type).

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_one_default ON accounts (is_default) WHERE is_default = 1;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    key_hash    BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- The message row is the job: status, attempts, schedule and lease live here.
CREATE TABLE messages (
    id                   TEXT PRIMARY KEY NOT NULL,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    channel              TEXT NOT NULL,
    recipient            TEXT NOT NULL,
    sender               TEXT,
    body                 TEXT NOT NULL,
    user_id              TEXT,
    status               TEXT NOT NULL,
    retry_count          INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    next_attempt_at      INTEGER,
    lease_owner          TEXT,
    lease_expires_at     INTEGER,
    provider             TEXT,
    provider_message_id  TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    sent_at              INTEGER
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX messages_leased ON messages (lease_expires_at) WHERE status = 'sending';
CREATE INDEX messages_account_created ON messages (account_id, created_at);

CREATE TABLE message_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

-- Transactional outbox: written in the same transaction as the state it describes.
-- `sequence` is the feed cursor; `published_at` is set by the relay.
CREATE TABLE outbox (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    event_type    TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    user_id       TEXT,
    payload       TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    published_at  INTEGER
);
CREATE INDEX outbox_account_sequence ON outbox (account_id, sequence);
CREATE INDEX outbox_unpublished ON outbox (sequence) WHERE published_at IS NULL;
