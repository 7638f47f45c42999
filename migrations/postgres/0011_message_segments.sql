-- SMS parts a message is sent in (what the sender pays for): GSM-7 or UCS-2 segments of
-- its text, stored when the text is known (at intake, or when a campaign message is
-- rendered). NULL for email and push.
ALTER TABLE messages ADD COLUMN segments INTEGER;
