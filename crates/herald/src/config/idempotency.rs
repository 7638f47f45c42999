//! `[idempotency]`: how long keys are kept.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IdempotencyConfig {
    /// How long a key and its response are kept (at least 24 hours is the promise).
    pub retention_hours: u64,
    /// Keys are stored only inside their request's transaction; a key left `in_flight` by
    /// an earlier herald (which stored claims on their own) is taken over after this long.
    pub in_flight_timeout_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { retention_hours: 24, in_flight_timeout_secs: 60 }
    }
}

impl IdempotencyConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.retention_hours == 0 || self.retention_hours > 24 * 365 {
            return invalid("idempotency.retention_hours", "must be between 1 and 8760");
        }
        if self.in_flight_timeout_secs == 0 || self.in_flight_timeout_secs > 86_400 {
            return invalid("idempotency.in_flight_timeout_secs", "must be between 1 and 86400");
        }
        Ok(())
    }
}
