-- One row per rate-limited provider: the GCRA state (theoretical arrival time of the next
-- send, microseconds since the Unix epoch) that every worker process updates in turn, so
-- that together they keep to the provider's rate (docs/adr/0016-shared-rate-limits.md).
CREATE TABLE provider_rate_limits (
    provider TEXT PRIMARY KEY,
    tat_us   BIGINT NOT NULL
);
