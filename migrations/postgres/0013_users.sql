-- Users: herald's contact directory, keyed by the caller's own user id. Writes are last
-- writer wins by `version` (the time of the change); a deleted user stays as a tombstone
-- (`deleted`, fields emptied) so that an older update arriving later cannot bring them back.
-- `revision` counts the writes of the user's current life (0 for a tombstone never alive).
CREATE TABLE users (
    account_id   UUID NOT NULL REFERENCES accounts (id),
    user_id      TEXT NOT NULL,
    email        TEXT,
    phone        TEXT,
    push_tokens  JSONB NOT NULL DEFAULT '[]',
    locale       TEXT,
    time_zone    TEXT,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    revision     INTEGER NOT NULL,
    version      TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
