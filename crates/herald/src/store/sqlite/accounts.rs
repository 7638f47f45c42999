//! Accounts and API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

use super::{to_millis, SqliteStore};
use crate::store::rows as from_row;
use crate::{
    model::ApiKeyRecord,
    ports::{AccountStore, StoreResult},
    store::{parse_column, DEFAULT_ACCOUNT_NAME},
};

const API_KEY_COLUMNS: &str = "id, account_id, name, prefix, key_hash, created_at, revoked_at";

#[async_trait]
impl AccountStore for SqliteStore {
    async fn ensure_default_account(&self) -> StoreResult<AccountId> {
        sqlx::query(
            "INSERT INTO accounts (id, name, is_default, created_at) VALUES (?, ?, 1, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(AccountId::new().to_string())
        .bind(DEFAULT_ACCOUNT_NAME)
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        let id: String =
            sqlx::query_scalar("SELECT id FROM accounts WHERE is_default = 1").fetch_one(&self.pool).await?;
        parse_column("accounts.id", &id)
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, created_at, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(key.id.to_string())
        .bind(key.account_id.to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash[..])
        .bind(to_millis(key.created_at))
        .bind(key.revoked_at.map(to_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?"))
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row::api_key).transpose()
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row::api_key).collect()
    }

    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(to_millis(at))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
