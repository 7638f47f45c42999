//! `AccountStore`: the default account and API keys, on both backends.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use herald::{
    model::{ApiKeyRecord, RequestRate},
    services::api_keys,
};
use herald_domain::{AccountId, ApiKeyId};

use super::{now_ms, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    api_keys_are_found_by_hash_and_revoked_once,
    the_default_account_is_created_once_under_concurrent_first_use,
    an_api_key_is_stored_once_per_hash_and_found_by_it_with_its_fields,
    revoked_keys_stay_listed_and_found_with_their_first_revocation_time,
    a_key_keeps_its_own_rate_limit_until_it_is_set_back_to_the_default,
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
        rate_limit: None,
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

async fn a_key_keeps_its_own_rate_limit_until_it_is_set_back_to_the_default(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let five = RequestRate::per_second(5).unwrap();
    let limited =
        api_keys::create_with_rate_limit(store.as_ref(), account, "limited", Some(five)).await.unwrap();
    let plain = api_keys::create(store.as_ref(), account, "plain").await.unwrap();
    let found = |secret: String| {
        let store = store.clone();
        async move { api_keys::find_active(store.as_ref(), &secret).await.unwrap().expect("active") }
    };
    let stored = found(limited.secret.clone()).await;
    assert_eq!(
        (stored.id, stored.name.as_str(), stored.rate_limit),
        (limited.record.id, "limited", Some(five))
    );
    assert_eq!(found(plain.secret.clone()).await.rate_limit, None);

    let most = RequestRate::per_second(RequestRate::MAX).unwrap();
    assert!(store.set_api_key_rate_limit(plain.record.id, Some(most)).await.unwrap());
    assert!(store.set_api_key_rate_limit(limited.record.id, None).await.unwrap());
    assert_eq!(found(plain.secret.clone()).await.rate_limit, Some(most));
    assert_eq!(found(limited.secret.clone()).await.rate_limit, None);
    let mut listed: Vec<_> =
        store.list_api_keys().await.unwrap().into_iter().map(|k| (k.name, k.rate_limit)).collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(listed, [("limited".to_owned(), None), ("plain".to_owned(), Some(most))]);

    assert!(store.revoke_api_key(plain.record.id, now_ms()).await.unwrap());
    assert!(!store.set_api_key_rate_limit(plain.record.id, Some(five)).await.unwrap(), "revoked");
    assert!(!store.set_api_key_rate_limit(ApiKeyId::new(), Some(five)).await.unwrap(), "no such key");
}
