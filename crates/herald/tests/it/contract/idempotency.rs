//! `IdempotencyStore`, and the keys `MessageStore::insert_messages` claims in its
//! transaction, on both backends.

use chrono::{DateTime, Duration, Utc};
use herald::model::{IdempotencyClaim, IdempotentResponse, KeyClaim, KeyedMessage};
use herald_domain::{AccountId, MessageStatus};

use super::{new_message, now_ms, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    idempotency_keys_live_in_their_messages_transaction_and_expire,
    a_batch_insert_claims_each_key_once_in_one_transaction,
    a_purge_deletes_only_the_keys_expired_by_then,
);

async fn idempotency_keys_live_in_their_messages_transaction_and_expire(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let keyed = |key: &str, at: chrono::DateTime<Utc>| {
        let mut message = new_message(account, at);
        message.idempotency =
            Some(IdempotentResponse { key: key.into(), status: 202, body: "{\"id\":1}".into() });
        let claim = KeyClaim {
            fingerprint: [7; 32],
            now: at,
            stale_before: at - Duration::seconds(60),
            expires_at: at + Duration::hours(24),
        };
        KeyedMessage { message, claim: Some(claim) }
    };
    let first = keyed("a", now);
    assert_eq!(
        store.insert_messages(std::slice::from_ref(&first)).await.unwrap(),
        [IdempotencyClaim::Acquired]
    );
    assert_eq!(
        store.insert_messages(&[keyed("a", now)]).await.unwrap(),
        [IdempotencyClaim::Completed { fingerprint: [7; 32], status: 202, body: "{\"id\":1}".into() }]
    );

    // A transaction that fails (here: a message id already taken) leaves no trace of its key.
    let mut failing = keyed("b", now);
    failing.message.id = first.message.id;
    assert!(store.insert_messages(&[failing]).await.is_err());
    assert_eq!(store.insert_messages(&[keyed("b", now)]).await.unwrap(), [IdempotencyClaim::Acquired]);
    assert_eq!(store.status_counts().await.unwrap().total(), 2);

    let after_expiry = now + Duration::hours(25);
    assert_eq!(
        store.insert_messages(&[keyed("a", after_expiry)]).await.unwrap(),
        [IdempotencyClaim::Acquired],
        "an expired key is reused"
    );
    assert_eq!(
        store.purge_expired_idempotency_keys(after_expiry).await.unwrap(),
        1,
        "b expired; a was renewed"
    );
}

async fn a_batch_insert_claims_each_key_once_in_one_transaction(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let claim = |fingerprint: u8| KeyClaim {
        fingerprint: [fingerprint; 32],
        now,
        stale_before: now - Duration::seconds(60),
        expires_at: now + Duration::hours(24),
    };
    let keyed = |key: Option<&str>, fingerprint: u8| {
        let mut message = new_message(account, now);
        message.idempotency =
            key.map(|key| IdempotentResponse { key: key.into(), status: 202, body: "{}".into() });
        KeyedMessage { message, claim: key.map(|_| claim(fingerprint)) }
    };
    let batch = vec![keyed(Some("k1"), 1), keyed(Some("k1"), 1), keyed(None, 0), keyed(Some("k2"), 2)];
    let outcomes = store.insert_messages(&batch).await.unwrap();
    assert_eq!(outcomes[0], IdempotencyClaim::Acquired);
    assert_eq!(
        outcomes[1],
        IdempotencyClaim::Completed { fingerprint: [1; 32], status: 202, body: "{}".into() },
        "the second use of k1 in the same batch sees the first"
    );
    assert_eq!((&outcomes[2], &outcomes[3]), (&IdempotencyClaim::Acquired, &IdempotencyClaim::Acquired));
    assert_eq!(store.status_counts().await.unwrap().pending, 3);
    assert!(store.get_message(account, batch[1].message.id).await.unwrap().is_none());
    let stored = store.get_message(account, batch[3].message.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Pending);

    // A later batch with k1 and another fingerprint gets the key's state, inserts nothing.
    let outcomes = store.insert_messages(&[keyed(Some("k1"), 9)]).await.unwrap();
    assert!(matches!(outcomes[0], IdempotencyClaim::Completed { fingerprint, .. } if fingerprint == [1; 32]));
    assert_eq!(store.status_counts().await.unwrap().pending, 3);
}

/// A message completing `key`, claimed at `now` until `expires_at`.
fn keyed_until(account: AccountId, key: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> KeyedMessage {
    let mut message = new_message(account, now);
    message.idempotency = Some(IdempotentResponse { key: key.into(), status: 202, body: "{}".into() });
    let claim = KeyClaim { fingerprint: [4; 32], now, stale_before: now - Duration::seconds(60), expires_at };
    KeyedMessage { message, claim: Some(claim) }
}

async fn a_purge_deletes_only_the_keys_expired_by_then(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let at = |hours: i64| now + Duration::hours(hours);
    for (key, expires_at) in [("short", at(1)), ("long", at(48))] {
        let claimed = store.insert_messages(&[keyed_until(account, key, now, expires_at)]).await.unwrap();
        assert_eq!(claimed, [IdempotencyClaim::Acquired]);
    }

    assert_eq!(store.purge_expired_idempotency_keys(now).await.unwrap(), 0, "none expired yet");
    assert_eq!(store.purge_expired_idempotency_keys(at(2)).await.unwrap(), 1);
    assert_eq!(store.purge_expired_idempotency_keys(at(2)).await.unwrap(), 0, "purged once");

    // Gone: a claim dated before its old expiry acquires the key afresh.
    let reclaimed = store.insert_messages(&[keyed_until(account, "short", at(0), at(24))]).await.unwrap();
    assert_eq!(reclaimed, [IdempotencyClaim::Acquired]);
    let kept = store.insert_messages(&[keyed_until(account, "long", at(2), at(26))]).await.unwrap();
    let completed = IdempotencyClaim::Completed { fingerprint: [4; 32], status: 202, body: "{}".into() };
    assert_eq!(kept, [completed], "an unexpired key is kept");
}
