//! Accounts and API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

use super::SqliteStore;
use crate::store::queries;
use crate::{
    model::ApiKeyRecord,
    ports::{AccountStore, StoreResult},
};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn ensure_default_account(&self) -> StoreResult<AccountId> {
        queries::sqlite::ensure_default_account(&self.pool).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        queries::sqlite::insert_api_key(&self.pool, key).await
    }

    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        queries::sqlite::find_api_key_by_hash(&self.pool, hash).await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        queries::sqlite::list_api_keys(&self.pool).await
    }

    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        queries::sqlite::revoke_api_key(&self.pool, id, at).await
    }
}
