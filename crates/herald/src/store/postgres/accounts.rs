//! Accounts and API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

use super::PgStore;
use crate::store::queries;
use crate::{
    model::ApiKeyRecord,
    ports::{AccountStore, StoreResult},
};

#[async_trait]
impl AccountStore for PgStore {
    async fn ensure_default_account(&self) -> StoreResult<AccountId> {
        queries::postgres::ensure_default_account(&self.pool).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        queries::postgres::insert_api_key(&self.pool, key).await
    }

    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        queries::postgres::find_api_key_by_hash(&self.pool, hash).await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        queries::postgres::list_api_keys(&self.pool).await
    }

    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        queries::postgres::revoke_api_key(&self.pool, id, at).await
    }
}
