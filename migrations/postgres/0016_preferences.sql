-- A user's notification preferences (no row: everything on, no quiet hours). Channels off
-- and categories opted out of are JSON arrays; quiet hours are local HH:MM in the user's
-- time zone.
CREATE TABLE preferences (
    account_id            UUID NOT NULL REFERENCES accounts (id),
    user_id               TEXT NOT NULL,
    channels_off          JSONB NOT NULL,
    opted_out_categories  JSONB NOT NULL,
    quiet_start           TEXT,
    quiet_end             TEXT,
    updated_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

-- A user's history, newest first (GET /api/v1/notifications/user/{user_id}): one index
-- range per page. Messages without a user (most SMS) are not in it.
CREATE INDEX messages_user_history ON messages (account_id, user_id, created_at DESC, id DESC)
    WHERE user_id IS NOT NULL;
