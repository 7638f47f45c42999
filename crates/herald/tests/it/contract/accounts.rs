//! `AccountStore`: the default account and API keys, on both backends.

use chrono::Utc;
use herald::services::api_keys;

use super::store;
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(api_keys_are_found_by_hash_and_revoked_once,);

async fn api_keys_are_found_by_hash_and_revoked_once(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let created = api_keys::create(store.as_ref(), account, "ci").await.unwrap();

    assert_eq!(api_keys::authenticate(store.as_ref(), &created.secret).await.unwrap(), Some(account));
    assert_eq!(api_keys::authenticate(store.as_ref(), "hrld_wrong").await.unwrap(), None);
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "ci");
    assert!(created.secret.starts_with(&listed[0].prefix));
    assert_eq!(listed[0].hash, api_keys::hash_key(&created.secret), "the SHA-256 is stored");

    assert!(store.revoke_api_key(created.record.id, Utc::now()).await.unwrap());
    assert!(!store.revoke_api_key(created.record.id, Utc::now()).await.unwrap(), "already revoked");
    assert_eq!(api_keys::authenticate(store.as_ref(), &created.secret).await.unwrap(), None);

    assert!(api_keys::ensure_bootstrap(store.as_ref(), account, "operator-chosen-key").await.unwrap());
    assert!(
        api_keys::ensure_bootstrap(store.as_ref(), account, "operator-chosen-key").await.unwrap(),
        "idempotent"
    );
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2);
    assert_eq!(api_keys::authenticate(store.as_ref(), "operator-chosen-key").await.unwrap(), Some(account));
}
