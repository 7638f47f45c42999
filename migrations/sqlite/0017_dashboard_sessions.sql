-- Dashboard sign-in sessions (docs/adr/0024-dashboard.md). A session is made from an API
-- key and is only as good as that key: reads join api_keys and ignore sessions whose key is
-- revoked. Only the SHA-256 of the session token (the cookie's value) is stored.
CREATE TABLE dashboard_sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    api_key_id  TEXT NOT NULL REFERENCES api_keys (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Revoking a key ends its sessions; expired ones are swept by expiry.
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (api_key_id);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
