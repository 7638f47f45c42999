//! Provider send rates shared by every process (PostgreSQL); see
//! `herald_domain::gcra` and docs/adr/0016-shared-rate-limits.md.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::gcra::RateLimit;

use super::StoreResult;

/// Send slots granted by a shared rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSlots {
    /// When each granted send may go, earliest first; each is used once, at its time.
    pub slots: Vec<DateTime<Utc>>,
    /// With no slot granted: the earliest a send could go.
    pub next: DateTime<Utc>,
}

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes up to `want` send slots of `provider`'s shared `limit` at `now`, none later
    /// than `now + horizon`; the slots are taken for every process at once (one short
    /// transaction on the provider's row).
    async fn take_send_slots(
        &self,
        provider: &str,
        limit: RateLimit,
        want: u32,
        now: DateTime<Utc>,
        horizon: std::time::Duration,
    ) -> StoreResult<SendSlots>;
}
