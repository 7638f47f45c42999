//! `AccountStore`: the default account and API keys, on both backends.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use herald::{model::ApiKeyRecord, services::api_keys};
use herald_domain::{AccountId, ApiKeyId};

use super::{now_ms, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    api_keys_are_found_by_hash_and_revoked_once,
    the_default_account_is_created_once_under_concurrent_first_use,
    an_api_key_is_stored_once_per_hash_and_found_by_it_with_its_fields,
    revoked_keys_stay_listed_and_found_with_their_first_revocation_time,
);

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

fn key(account: AccountId, name: &str, hash: u8) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::new(),
        account_id: account,
        name: name.into(),
        prefix: format!("hrld_{hash:02x}"),
        hash: [hash; 32],
        created_at: now_ms(),
        revoked_at: None,
    }
}

async fn the_default_account_is_created_once_under_concurrent_first_use(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.ensure_default_account().await.unwrap() })
        })
        .collect();

    let mut accounts = HashSet::new();
    for caller in callers {
        accounts.insert(caller.await.unwrap());
    }

    assert_eq!(accounts.len(), 1, "every caller got the same account: {accounts:?}");
    assert!(accounts.contains(&store.ensure_default_account().await.unwrap()));
}

async fn an_api_key_is_stored_once_per_hash_and_found_by_it_with_its_fields(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let first = key(account, "ci", 5);
    let same_hash = ApiKeyRecord {
        name: "other".into(),
        created_at: first.created_at + Duration::seconds(1),
        ..key(account, "other", 5)
    };

    store.insert_api_key(&first).await.unwrap();
    store.insert_api_key(&same_hash).await.expect("a repeat is not an error");

    assert_eq!(store.find_api_key_by_hash(&[5; 32]).await.unwrap(), Some(first.clone()), "left as it was");
    assert_eq!(store.list_api_keys().await.unwrap(), [first]);
    assert_eq!(store.find_api_key_by_hash(&[6; 32]).await.unwrap(), None);
}

async fn revoked_keys_stay_listed_and_found_with_their_first_revocation_time(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let (revoked, active) = (key(account, "old", 1), key(account, "new", 2));
    store.insert_api_key(&revoked).await.unwrap();
    store.insert_api_key(&active).await.unwrap();
    let at = now_ms() + Duration::seconds(5);

    assert!(store.revoke_api_key(revoked.id, at).await.unwrap());
    assert!(!store.revoke_api_key(revoked.id, at + Duration::seconds(1)).await.unwrap(), "revoked once");
    assert!(!store.revoke_api_key(ApiKeyId::new(), at).await.unwrap(), "no such key");

    let found = store.find_api_key_by_hash(&[1; 32]).await.unwrap().expect("still stored");
    assert_eq!(found, ApiKeyRecord { revoked_at: Some(at), ..revoked.clone() });
    let mut listed = store.list_api_keys().await.unwrap();
    listed.sort_by_key(|k| k.hash);
    assert_eq!(listed, [ApiKeyRecord { revoked_at: Some(at), ..revoked }, active]);
}
