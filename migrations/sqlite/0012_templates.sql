-- Notification templates. The row holds the current version; every version (the first
-- included) is kept in template_versions, so a message keeps the version it was sent with.
-- A delete is soft: deleted_at is set and the name is free again.
CREATE TABLE templates (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    version        INTEGER NOT NULL,
    subject        TEXT,
    body           TEXT NOT NULL,
    html           TEXT,
    variables      TEXT NOT NULL,
    category       TEXT,
    transactional  BOOLEAN NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE UNIQUE INDEX templates_live_name ON templates (account_id, name) WHERE deleted_at IS NULL;
CREATE INDEX templates_account ON templates (account_id, id) WHERE deleted_at IS NULL;

CREATE TABLE template_versions (
    template_id    TEXT NOT NULL REFERENCES templates (id),
    version        INTEGER NOT NULL,
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    subject        TEXT,
    body           TEXT NOT NULL,
    html           TEXT,
    variables      TEXT NOT NULL,
    category       TEXT,
    transactional  BOOLEAN NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
);
