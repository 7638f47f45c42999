//! The transactional outbox.

use chrono::{DateTime, Utc};
use herald_domain::AccountId;
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::store::rows as from_row;
use crate::{
    model::{FeedCursor, OutboxEvent, StoredEvent},
    ports::StoreResult,
};

/// Adds `events` to the outbox inside the caller's transaction, in order, in one statement.
pub(in crate::store) async fn insert_events(
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

const EVENT_COLUMNS: &str = "sequence, txid::text::bigint AS txid, account_id, event_id, event_type,
     aggregate_id, user_id, payload, metadata, created_at";

pub(in crate::store) async fn list_events(
    store: &PgStore,
    account: AccountId,
    after: FeedCursor,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    // Sequence numbers are handed out before commit, so ordering by them alone lets an
    // event commit behind a cursor a reader already passed. The feed is ordered by the
    // writing transaction instead, and shows only transactions older than every one
    // still running (the snapshot's xmin): nothing can commit before them any more.
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM outbox
         WHERE account_id = $1 AND (txid, sequence) > ($2::text::xid8, $3)
           AND txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY txid, sequence LIMIT $4"
    ))
    .bind(account.as_uuid())
    .bind(after.transaction.to_string())
    .bind(after.sequence)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(from_row::stored_event).collect()
}

pub(in crate::store) async fn mark_events_published(
    store: &PgStore,
    sequences: &[i64],
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    let done =
        sqlx::query("UPDATE outbox SET published_at = $1 WHERE published_at IS NULL AND sequence = ANY($2)")
            .bind(at)
            .bind(sequences)
            .execute(&store.pool)
            .await?;
    Ok(done.rows_affected())
}
