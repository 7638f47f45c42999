//! The transactional outbox: the event feed and the relay's view of it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::AccountId;

use super::StoreResult;
use crate::model::{FeedCursor, StoredEvent};

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// The account's events after `after` (exclusive), in feed order. An event is listed
    /// only once no event can still commit before it in that order, so a reader that
    /// follows the cursor never skips one.
    async fn list_events(
        &self,
        account: AccountId,
        after: FeedCursor,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Events the relay has not published yet, all accounts, oldest first.
    async fn unpublished_events(&self, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// Records that these events reached the broker.
    async fn mark_events_published(&self, sequences: &[i64], at: DateTime<Utc>) -> StoreResult<u64>;
    /// How many events wait for the relay, and when the oldest of them was written.
    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<DateTime<Utc>>)>;
}
