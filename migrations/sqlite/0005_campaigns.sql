-- Campaigns (the campaign brief): customers, campaigns, and campaign messages, which are
-- ordinary herald messages linked to their campaign and customer.
CREATE TABLE customers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    phone              TEXT NOT NULL,
    first_name         TEXT,
    last_name          TEXT,
    email              TEXT,
    location           TEXT,
    preferred_product  TEXT,
    attributes         TEXT NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX customers_account ON customers (account_id, id);

CREATE TABLE campaigns (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    status         TEXT NOT NULL,
    base_template  TEXT NOT NULL,
    scheduled_at   INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- Newest first, per account, with or without a filter.
CREATE INDEX campaigns_account_id ON campaigns (account_id, id);
CREATE INDEX campaigns_account_status ON campaigns (account_id, status, id);
CREATE INDEX campaigns_account_channel ON campaigns (account_id, channel, id);
CREATE INDEX campaigns_due ON campaigns (scheduled_at) WHERE status = 'scheduled';

-- No foreign keys on these two: a campaign send inserts up to 100,000 messages in one
-- statement, and per-row key checks cost about as much as the inserts. The start
-- transaction only links customers of the account, and campaigns are never deleted.
ALTER TABLE messages ADD COLUMN campaign_id INTEGER;
ALTER TABLE messages ADD COLUMN customer_id INTEGER;
CREATE INDEX messages_campaign ON messages (campaign_id, status) WHERE campaign_id IS NOT NULL;
