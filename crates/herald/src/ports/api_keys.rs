//! Accounts and their API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

use super::StoreResult;
use crate::model::{ApiKeyRecord, RequestRate};

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Returns the default account, creating it on first use.
    async fn ensure_default_account(&self) -> StoreResult<AccountId>;
    /// Stores a key; a key with the same hash already stored is left as it is.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks a key revoked; false when there is no such active key.
    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets an active key's own request rate limit (None: back to the default); false when
    /// there is no such active key.
    async fn set_api_key_rate_limit(
        &self,
        id: ApiKeyId,
        rate_limit: Option<RequestRate>,
    ) -> StoreResult<bool>;
}
