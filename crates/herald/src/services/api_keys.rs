//! API keys: generation, hashing and authentication.
//!
//! A key is 32 random bytes (base64url) behind a `hrld_` marker. Only its SHA-256 is
//! stored; a random 256-bit key needs no slow password hash. Lookup is by hash, and the
//! stored hash is compared again in constant time before the key is trusted.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use herald_domain::{AccountId, ApiKeyId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    model::{ApiKeyRecord, RequestRate},
    ports::{Store, StoreResult},
};

const KEY_MARKER: &str = "hrld_";
const GENERATED_PREFIX_LEN: usize = 12;

/// A key just created; `secret` is shown once and never stored.
#[derive(Debug)]
pub struct CreatedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn record_for(account: AccountId, name: &str, secret: &str, prefix: String) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::new(),
        account_id: account,
        name: name.to_owned(),
        prefix,
        hash: hash_key(secret),
        created_at: Utc::now(),
        revoked_at: None,
        rate_limit: None,
    }
}

/// A key held to the configured default request rate (`[api.rate_limit]`).
pub async fn create(store: &dyn Store, account: AccountId, name: &str) -> StoreResult<CreatedKey> {
    create_with_rate_limit(store, account, name, None).await
}

/// A key held to `rate_limit`, or to the configured default when None.
pub async fn create_with_rate_limit(
    store: &dyn Store,
    account: AccountId,
    name: &str,
    rate_limit: Option<RequestRate>,
) -> StoreResult<CreatedKey> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_MARKER}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = secret[..GENERATED_PREFIX_LEN].to_owned();
    let record = ApiKeyRecord { rate_limit, ..record_for(account, name, &secret, prefix) };
    store.insert_api_key(&record).await?;
    Ok(CreatedKey { record, secret })
}

/// Makes sure an operator-chosen key (`HERALD_BOOTSTRAP_API_KEY`) exists. A key that was
/// revoked stays revoked: returns false then.
pub async fn ensure_bootstrap(store: &dyn Store, account: AccountId, secret: &str) -> StoreResult<bool> {
    // Operator-chosen keys may be short: show only a little of them in listings.
    let prefix: String = secret.chars().take(3).collect();
    // Insert-if-absent, so replicas starting together with the same key do not collide.
    let record = record_for(account, "bootstrap", secret, prefix);
    store.insert_api_key(&record).await?;
    let stored = store.find_api_key_by_hash(&record.hash).await?;
    Ok(stored.is_some_and(|key| key.revoked_at.is_none()))
}

/// The account a presented key belongs to, or None for unknown and revoked keys alike.
pub async fn authenticate(store: &dyn Store, presented: &str) -> StoreResult<Option<AccountId>> {
    Ok(find_active(store, presented).await?.map(|key| key.account_id))
}

/// The active key a presented key is, or None for unknown and revoked keys alike.
pub async fn find_active(store: &dyn Store, presented: &str) -> StoreResult<Option<ApiKeyRecord>> {
    let hash = hash_key(presented);
    let Some(record) = store.find_api_key_by_hash(&hash).await? else {
        return Ok(None);
    };
    let matches: bool = record.hash.ct_eq(&hash).into();
    Ok((matches && record.revoked_at.is_none()).then_some(record))
}

pub async fn has_active_key(store: &dyn Store) -> StoreResult<bool> {
    Ok(store.list_api_keys().await?.iter().any(|k| k.revoked_at.is_none()))
}

/// Authentication for the API: the key check, without the rest of the store.
#[derive(Clone)]
pub struct Authenticator {
    store: std::sync::Arc<dyn Store>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(store: std::sync::Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The active key presented, with its account and rate limit; see [`find_active`].
    pub async fn authenticate(&self, presented: &str) -> StoreResult<Option<ApiKeyRecord>> {
        find_active(self.store.as_ref(), presented).await
    }
}
