-- Readiness commits a row here and deletes it again, to learn whether the database still
-- takes writes (a full disk, a read-only or terminated connection).
CREATE TABLE write_probe (
    id  BIGSERIAL PRIMARY KEY,
    pad BYTEA NOT NULL
);
ALTER TABLE write_probe ALTER COLUMN pad SET STORAGE EXTERNAL;
