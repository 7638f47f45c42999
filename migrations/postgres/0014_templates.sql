-- Notification templates. The row holds the current version; every version (the first
-- included) is kept in template_versions, so a message keeps the version it was sent with.
-- A delete is soft: deleted_at is set and the name is free again.
CREATE TABLE templates (
    id             UUID PRIMARY KEY,
    account_id     UUID NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    version        INTEGER NOT NULL,
    subject        TEXT,
    body           TEXT NOT NULL,
    html           TEXT,
    variables      JSONB NOT NULL,
    category       TEXT,
    transactional  BOOLEAN NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    deleted_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX templates_live_name ON templates (account_id, name) WHERE deleted_at IS NULL;
CREATE INDEX templates_account ON templates (account_id, id) WHERE deleted_at IS NULL;

CREATE TABLE template_versions (
    template_id    UUID NOT NULL REFERENCES templates (id),
    version        INTEGER NOT NULL,
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    subject        TEXT,
    body           TEXT NOT NULL,
    html           TEXT,
    variables      JSONB NOT NULL,
    category       TEXT,
    transactional  BOOLEAN NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (template_id, version)
);
