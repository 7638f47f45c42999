//! The transactional outbox.

use async_trait::async_trait;
use herald_domain::AccountId;
use sqlx::{Row, Sqlite, Transaction};

use super::{from_millis, to_millis, SqliteStore};
use crate::{
    model::{OutboxEvent, StoredEvent},
    ports::{OutboxStore, StoreError, StoreResult},
    store::parse_column,
};

/// Adds `event` to the outbox inside the caller's transaction.
pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    account: AccountId,
    event: &OutboxEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, account_id, event_type, aggregate_id, user_id, payload,
                             metadata, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.event_id.to_string())
    .bind(account.to_string())
    .bind(&event.event_type)
    .bind(&event.aggregate_id)
    .bind(&event.user_id)
    .bind(event.payload.to_string())
    .bind(event.metadata.to_string())
    .bind(to_millis(event.timestamp))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn json_column(column: &str, text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{column} is not JSON")))
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn list_events(&self, account: AccountId, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT sequence, event_id, event_type, aggregate_id, user_id, payload, metadata, created_at
             FROM outbox WHERE account_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
        )
        .bind(account.to_string())
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
                        event_id: parse_column("outbox.event_id", row.try_get("event_id")?)?,
                        event_type: row.try_get("event_type")?,
                        aggregate_id: row.try_get("aggregate_id")?,
                        user_id: row.try_get("user_id")?,
                        payload: json_column("outbox.payload", row.try_get("payload")?)?,
                        metadata: json_column("outbox.metadata", row.try_get("metadata")?)?,
                        timestamp: from_millis(row.try_get("created_at")?)?,
                    },
                })
            })
            .collect()
    }
}
