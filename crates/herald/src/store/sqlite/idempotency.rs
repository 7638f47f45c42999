//! Idempotency keys. Claiming and completing a key run inside the transactions of what
//! they create (`crate::store::queries`); here only the purge.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::{
    ports::{IdempotencyStore, StoreResult},
    store::queries,
};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn purge_expired_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        queries::sqlite::purge_expired_idempotency_keys(&self.pool, now).await
    }
}
