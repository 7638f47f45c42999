//! Idempotency keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::AccountId;
use sqlx::{Row, Sqlite, Transaction};

use super::{to_millis, SqliteStore};
use crate::store::queries;
use crate::{
    model::{IdempotencyClaim, IdempotentResponse, KeyClaim},
    ports::{IdempotencyStore, StoreResult},
    store::{hash_from_bytes, IdempotencyRow},
};

/// Marks the key done with its response, inside the transaction of what it created (a
/// message, or a campaign's messages: no single message id then).
pub(super) async fn complete_key(
    tx: &mut Transaction<'_, Sqlite>,
    account: AccountId,
    message_id: Option<&str>,
    response: &IdempotentResponse,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ?,
                message_id = ?
         WHERE account_id = ? AND idempotency_key = ?",
    )
    .bind(i64::from(response.status))
    .bind(&response.body)
    .bind(message_id)
    .bind(account.to_string())
    .bind(&response.key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A key's state from a row with its fingerprint, state and response columns.
pub(super) fn claim_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<IdempotencyClaim> {
    IdempotencyRow {
        fingerprint: hash_from_bytes(row.try_get("fingerprint")?)?,
        state: row.try_get("state")?,
        status: row.try_get::<Option<i64>, _>("response_status")?,
        body: row.try_get("response_body")?,
    }
    .into_claim()
}

/// Claims `key` for a request on `conn` (the pool, or a batch's transaction): inserts a
/// fresh claim or takes over an expired or abandoned one, or reports the key's state.
pub(super) async fn claim_key(
    conn: &mut sqlx::SqliteConnection,
    account: AccountId,
    key: &str,
    claim: &KeyClaim,
) -> StoreResult<IdempotencyClaim> {
    // Insert a fresh claim, or take over an expired or abandoned one, in one statement.
    let acquired = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, idempotency_key, fingerprint, state,
                                       locked_at, created_at, expires_at)
         VALUES (?1, ?2, ?3, 'in_flight', ?4, ?4, ?5)
         ON CONFLICT (account_id, idempotency_key) DO UPDATE
            SET fingerprint = excluded.fingerprint, state = 'in_flight',
                response_status = NULL, response_body = NULL, message_id = NULL,
                locked_at = excluded.locked_at, created_at = excluded.created_at,
                expires_at = excluded.expires_at
            WHERE idempotency_keys.expires_at <= ?4
               OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_at < ?6)",
    )
    .bind(account.to_string())
    .bind(key)
    .bind(&claim.fingerprint[..])
    .bind(to_millis(claim.now))
    .bind(to_millis(claim.expires_at))
    .bind(to_millis(claim.stale_before))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if acquired {
        return Ok(IdempotencyClaim::Acquired);
    }
    let row = sqlx::query(
        "SELECT fingerprint, state, response_status, response_body FROM idempotency_keys
         WHERE account_id = ? AND idempotency_key = ?",
    )
    .bind(account.to_string())
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    claim_from_row(&row)
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn purge_expired_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        queries::sqlite::purge_expired_idempotency_keys(&self.pool, now).await
    }
}
