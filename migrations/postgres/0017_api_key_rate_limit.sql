-- An API key's own request rate limit, in requests a second (its burst is the same number);
-- NULL: the key is held to the default, [api.rate_limit] (docs/adr/0022-api-rate-limits.md).
ALTER TABLE api_keys ADD COLUMN rate_limit_per_second INTEGER CHECK (rate_limit_per_second > 0);
