-- Readiness commits a row here and deletes it again, to learn whether the database still
-- takes writes (a full disk answers "database or disk is full").
CREATE TABLE write_probe (
    id  INTEGER PRIMARY KEY,
    pad BLOB NOT NULL
);
