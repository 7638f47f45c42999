//! The transactional outbox.

use async_trait::async_trait;
use herald_domain::{AccountId, EventId};
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use crate::{
    model::{OutboxEvent, StoredEvent},
    ports::{OutboxStore, StoreResult},
};

/// Adds `events` to the outbox inside the caller's transaction, in order, in one statement.
pub(super) async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    events: &[(AccountId, &OutboxEvent)],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (event_id, account_id, event_type, aggregate_id, user_id, payload,
                             metadata, created_at)
         SELECT event_id, account_id, event_type, aggregate_id, user_id, payload, metadata,
                created_at
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                     $6::jsonb[], $7::jsonb[], $8::timestamptz[]) WITH ORDINALITY
              AS e(event_id, account_id, event_type, aggregate_id, user_id, payload, metadata,
                   created_at, position)
         ORDER BY position",
    )
    .bind(events.iter().map(|(_, e)| e.event_id.as_uuid()).collect::<Vec<_>>())
    .bind(events.iter().map(|(a, _)| a.as_uuid()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.aggregate_id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.user_id.as_deref()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.payload.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.metadata.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.timestamp).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn list_events(&self, account: AccountId, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
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
