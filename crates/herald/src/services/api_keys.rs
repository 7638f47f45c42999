//! API keys: generation, hashing and authentication; and the dashboard sessions made
//! from them.
//!
//! A key is 32 random bytes (base64url) behind a `hrld_` marker. Only its SHA-256 is
//! stored; a random 256-bit key needs no slow password hash. Lookup is by hash, and the
//! stored hash is compared again in constant time before the key is trusted.
//!
//! A session token is 32 random bytes too, stored as its SHA-256 beside the key it was
//! made with; a session is good while it has not expired and its key is not revoked. Its
//! CSRF token is derived from the session token (SHA-256 under a label), so it needs no
//! storage and cannot be computed by anyone who cannot read the HttpOnly cookie.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use herald_domain::{AccountId, ApiKeyId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    model::{ActiveSession, ApiKeyRecord, RequestRate, SessionRecord},
    ports::{Store, StoreResult},
};

const KEY_MARKER: &str = "hrld_";
const GENERATED_PREFIX_LEN: usize = 12;
const CSRF_LABEL: &[u8] = b"herald dashboard csrf v1\0";

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

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
    let secret = format!("{KEY_MARKER}{}", random_token());
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

/// The CSRF token of a session: state-changing requests made with the session's cookie
/// must carry it in `X-CSRF-Token`.
pub fn csrf_token(session_token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(CSRF_LABEL);
    digest.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Whether `presented` is the CSRF token of `session_token`, compared in constant time.
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    csrf_token(session_token).as_bytes().ct_eq(presented.as_bytes()).into()
}

/// A session just made: `token` goes into the cookie and is never stored.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub session: ActiveSession,
}

/// What revoking a key through the API did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Revoked,
    /// No active key of the account has that id.
    NotFound,
}

/// Authentication for the API (keys and dashboard sessions) and the account's keys, without
/// the rest of the store.
#[derive(Clone)]
pub struct Authenticator {
    store: std::sync::Arc<dyn Store>,
    session_ttl: chrono::Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(store: std::sync::Arc<dyn Store>, session_ttl: std::time::Duration) -> Self {
        let session_ttl = chrono::Duration::from_std(session_ttl).unwrap_or(chrono::Duration::hours(8));
        Self { store, session_ttl }
    }

    /// The active key presented, with its account and rate limit; see [`find_active`].
    pub async fn authenticate(&self, presented: &str) -> StoreResult<Option<ApiKeyRecord>> {
        find_active(self.store.as_ref(), presented).await
    }

    /// A new dashboard session for the presented key; None when the key is unknown or
    /// revoked.
    pub async fn sign_in(&self, presented_key: &str) -> StoreResult<Option<NewSession>> {
        let Some(key) = self.authenticate(presented_key).await? else {
            return Ok(None);
        };
        let token = random_token();
        let now = Utc::now();
        let record = SessionRecord {
            token_hash: hash_key(&token),
            api_key_id: key.id,
            created_at: now,
            expires_at: now + self.session_ttl,
        };
        self.store.insert_session(&record).await?;
        Ok(Some(NewSession { token, session: ActiveSession { expires_at: record.expires_at, key } }))
    }

    /// The session a cookie's token names, while it is good.
    pub async fn session(&self, token: &str) -> StoreResult<Option<ActiveSession>> {
        self.store.find_session(&hash_key(token), Utc::now()).await
    }

    /// Ends a session; false when there was none.
    pub async fn sign_out(&self, token: &str) -> StoreResult<bool> {
        self.store.delete_session(&hash_key(token)).await
    }

    /// The account's keys, newest first, revoked ones included.
    pub async fn list_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut keys = self.store.list_api_keys().await?;
        keys.retain(|key| key.account_id == account);
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.as_uuid().cmp(&a.id.as_uuid())));
        Ok(keys)
    }

    pub async fn create_key(
        &self,
        account: AccountId,
        name: &str,
        rate_limit: Option<RequestRate>,
    ) -> StoreResult<CreatedKey> {
        create_with_rate_limit(self.store.as_ref(), account, name, rate_limit).await
    }

    /// Revokes one of the account's active keys, ending its sessions.
    pub async fn revoke_key(&self, account: AccountId, id: ApiKeyId) -> StoreResult<Revoked> {
        let ours =
            self.store.list_api_keys().await?.iter().any(|key| key.id == id && key.account_id == account);
        if ours && self.store.revoke_api_key(id, Utc::now()).await? {
            Ok(Revoked::Revoked)
        } else {
            Ok(Revoked::NotFound)
        }
    }
}
