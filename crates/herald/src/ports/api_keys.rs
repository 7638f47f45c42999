//! Accounts and their API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

use super::StoreResult;
use crate::model::{ActiveSession, ApiKeyRecord, RequestRate, SessionRecord};

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Returns the default account, creating it on first use.
    async fn ensure_default_account(&self) -> StoreResult<AccountId>;
    /// Stores a key; a key with the same hash already stored is left as it is.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks a key revoked and ends its dashboard sessions; false when there is no such
    /// active key.
    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets an active key's own request rate limit (None: back to the default); false when
    /// there is no such active key.
    async fn set_api_key_rate_limit(
        &self,
        id: ApiKeyId,
        rate_limit: Option<RequestRate>,
    ) -> StoreResult<bool>;
    /// Stores a dashboard session, sweeping expired ones first.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with this token hash if it has not expired at `now` and its key is
    /// active; None otherwise.
    async fn find_session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ActiveSession>>;
    /// Ends a session; false when there was none.
    async fn delete_session(&self, token_hash: &[u8; 32]) -> StoreResult<bool>;
}
