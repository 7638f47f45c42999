-- Delivery receipts name a message by the id its provider gave it: find it by that.
CREATE INDEX messages_provider_message_id ON messages (provider_message_id, provider)
    WHERE provider_message_id IS NOT NULL;
