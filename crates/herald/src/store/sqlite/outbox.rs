//! The transactional outbox.

use chrono::{DateTime, Utc};
use herald_domain::AccountId;
use sqlx::{Sqlite, Transaction};

use super::{to_millis, SqliteStore};
use crate::store::rows as from_row;
use crate::{
    model::{FeedCursor, OutboxEvent, StoredEvent},
    ports::StoreResult,
};

/// Adds `events` to the outbox inside the caller's transaction, in order, in one statement.
pub(in crate::store) async fn insert_events(
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

const EVENT_COLUMNS: &str =
    "sequence, 0 AS txid, account_id, event_id, event_type, aggregate_id, user_id, payload, metadata, created_at";

pub(in crate::store) async fn list_events(
    store: &SqliteStore,
    account: AccountId,
    after: FeedCursor,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    // One writer at a time: events commit in sequence order, so the sequence alone is
    // the feed's order (a PostgreSQL cursor's transaction part means nothing here).
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE account_id = ? AND sequence > ?
         ORDER BY sequence LIMIT ?"
    ))
    .bind(account.to_string())
    .bind(after.sequence)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(from_row::stored_event).collect()
}

pub(in crate::store) async fn mark_events_published(
    store: &SqliteStore,
    sequences: &[i64],
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    if sequences.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE outbox SET published_at = ?1
         WHERE published_at IS NULL AND sequence IN (SELECT value FROM json_each(?2))",
    )
    .bind(to_millis(at))
    .bind(serde_json::to_string(sequences).unwrap_or_else(|_| "[]".into()))
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}
