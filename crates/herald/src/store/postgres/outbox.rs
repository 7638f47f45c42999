//! The transactional outbox.

use async_trait::async_trait;
use herald_domain::{AccountId, EventId};
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use crate::{
    model::{OutboxEvent, StoredEvent},
    ports::{OutboxStore, StoreResult},
};

/// Adds `event` to the outbox inside the caller's transaction.
pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    account: AccountId,
    event: &OutboxEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, account_id, event_type, aggregate_id, user_id, payload,
                             metadata, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.event_id.as_uuid())
    .bind(account.as_uuid())
    .bind(&event.event_type)
    .bind(&event.aggregate_id)
    .bind(&event.user_id)
    .bind(&event.payload)
    .bind(&event.metadata)
    .bind(event.timestamp)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn list_events(
        &self,
        account: AccountId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT sequence, event_id, event_type, aggregate_id, user_id, payload, metadata, created_at
             FROM outbox WHERE account_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
        )
        .bind(account.as_uuid())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    sequence: row.try_get("sequence")?,
                    account_id: account,
                    event: OutboxEvent {
                        event_id: EventId::from_uuid(row.try_get("event_id")?),
                        event_type: row.try_get("event_type")?,
                        aggregate_id: row.try_get("aggregate_id")?,
                        user_id: row.try_get("user_id")?,
                        payload: row.try_get("payload")?,
                        metadata: row.try_get("metadata")?,
                        timestamp: row.try_get("created_at")?,
                    },
                })
            })
            .collect()
    }
}
