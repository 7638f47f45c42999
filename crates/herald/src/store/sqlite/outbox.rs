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

/// Adds `events` to the outbox inside the caller's transaction, in order, in one statement.
pub(super) async fn insert_events(
    tx: &mut Transaction<'_, Sqlite>,
    events: &[(AccountId, &OutboxEvent)],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|(account, e)| {
            serde_json::json!({
                "event_id": e.event_id.to_string(),
                "account_id": account.to_string(),
                "event_type": e.event_type,
                "aggregate_id": e.aggregate_id,
                "user_id": e.user_id,
                "payload": e.payload,
                "metadata": e.metadata,
                "created_at": to_millis(e.timestamp),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO outbox (event_id, account_id, event_type, aggregate_id, user_id, payload,
                             metadata, created_at)
         SELECT value ->> 'event_id', value ->> 'account_id', value ->> 'event_type',
                value ->> 'aggregate_id', value ->> 'user_id', value -> 'payload',
                value -> 'metadata', value ->> 'created_at'
         FROM json_each(?1) ORDER BY key",
    )
    .bind(serde_json::Value::Array(rows).to_string())
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
