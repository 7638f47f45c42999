//! Idempotency keys (claimed inside the transactions of what they create).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    // Keys are claimed inside the transaction of what they create: see
    // `MessageStore::insert_messages` and `CampaignStore::start_campaign`.
    /// Deletes keys whose expiry is at or before `now`; returns how many.
    async fn purge_expired_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}
