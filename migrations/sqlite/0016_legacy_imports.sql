-- `herald import-monolith` (docs/adr/0023): what became of each row of the monolith's
-- notification tables, keyed by the legacy id. A row is written in the transaction that
-- imports what it names, so a re-run (or a run after a kill) skips what is there and
-- changes nothing. `outcome`: 'imported' (herald_id names the template or message
-- created), 'dual_written' (the monolith already sent it through the API with
-- Idempotency-Key notificationlog-<id>; herald_id is that message) or 'skipped' (no
-- herald_id; `note` says why). `checksum` is the legacy row's as last seen: a changed
-- row is imported again (a template gets its next version, a message its new status).
CREATE TABLE legacy_imports (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    kind         TEXT NOT NULL,
    legacy_id    INTEGER NOT NULL,
    herald_id    TEXT,
    outcome      TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    note         TEXT,
    imported_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, legacy_id)
);

-- Dual-written messages are found by their idempotency key. Only the monolith's keys are
-- indexed: every other send pays nothing for this.
CREATE INDEX messages_legacy_key ON messages (account_id, idempotency_key)
    WHERE idempotency_key LIKE 'notificationlog-%';
