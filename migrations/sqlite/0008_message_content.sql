-- What an email or a push notification carries besides its text: the subject (or push
-- title) in its own column, and the HTML alternative, Reply-To, unsubscribe URL and push
-- data as one JSON object. Both stay NULL for SMS and WhatsApp.
ALTER TABLE messages ADD COLUMN subject TEXT;
ALTER TABLE messages ADD COLUMN content TEXT;
