//! The store contract: the same tests, unchanged, against SQLite and PostgreSQL.

use std::{collections::HashSet, sync::Arc};

use chrono::{Duration, Utc};
use herald::{
    model::{
        AttemptOutcome, AttemptResult, FeedCursor, IdempotencyClaim, IdempotentResponse, KeyClaim,
        KeyedMessage, MessageEventKind, NewMessage, OutboxEvent,
    },
    ports::Store,
    services::api_keys,
};
use herald_domain::{AccountId, Channel, EventId, MessageId, MessageStatus};
use serde_json::json;

use crate::helpers::{on_both_backends, Backend, TestDb};

on_both_backends!(
    migrations_are_idempotent_and_the_default_account_is_stable,
    an_inserted_message_reads_back_pending_with_an_accepted_event,
    messages_are_only_visible_to_their_account,
    a_claim_takes_only_due_messages_and_never_the_same_one_twice,
    concurrent_claims_get_disjoint_batches,
    outcomes_are_applied_only_while_the_lease_is_held,
    sent_and_failed_outcomes_write_their_outbox_events,
    expired_leases_are_requeued_with_a_timeline_entry,
    the_event_feed_is_per_account_and_ordered_by_cursor,
    api_keys_are_found_by_hash_and_revoked_once,
    a_batch_insert_claims_each_key_once_in_one_transaction,
    leases_move_only_from_their_holder,
    the_relay_reads_unpublished_events_in_order_and_marks_them,
    a_singleton_role_is_held_by_one_holder_at_a_time,
    customers_are_inserted_in_bulk_in_order,
);

async fn store(backend: Backend) -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create(backend).await?;
    let store = herald::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}

fn new_message(account: AccountId, created_at: chrono::DateTime<Utc>) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        account_id: account,
        channel: Channel::Sms,
        recipient: herald_domain::PhoneNumber::parse("+31633450007").unwrap().into(),
        sender: Some("MB".into()),
        body: "hello".into(),
        user_id: Some("user-1".into()),
        tags: Default::default(),
        created_at,
        idempotency: None,
    }
}

fn event(message: MessageId, event_type: &str) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: event_type.into(),
        aggregate_id: message.to_string(),
        user_id: None,
        payload: json!({"message_id": message}),
        metadata: json!({"source": "test"}),
        timestamp: Utc::now(),
    }
}

fn sent(account: AccountId, id: MessageId) -> AttemptOutcome {
    AttemptOutcome {
        message_id: id,
        account_id: account,
        at: Utc::now(),
        result: AttemptResult::Sent {
            provider: "mock".into(),
            provider_message_id: Some("p-1".into()),
            event: event(id, "sms.sent"),
        },
    }
}

async fn migrations_are_idempotent_and_the_default_account_is_stable(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    store.migrate().await.expect("second migrate is a no-op");
    let first = store.ensure_default_account().await.unwrap();
    let second = store.ensure_default_account().await.unwrap();
    assert_eq!(first, second);
    store.ping().await.unwrap();
}

async fn an_inserted_message_reads_back_pending_with_an_accepted_event(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let message = new_message(account, Utc::now());
    store.insert_message(&message).await.unwrap();

    let stored = store.get_message(account, message.id).await.unwrap().expect("stored");
    assert_eq!(stored.status, MessageStatus::Pending);
    assert_eq!(stored.recipient, message.recipient);
    assert_eq!(stored.recipient.as_str(), "+31633450007");
    assert_eq!(stored.sender.as_deref(), Some("MB"));
    assert_eq!(stored.user_id.as_deref(), Some("user-1"));
    assert_eq!(stored.retry_count, 0);
    assert_eq!(stored.created_at.timestamp_millis(), message.created_at.timestamp_millis());
    let events = store.list_message_events(message.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, MessageEventKind::Accepted);
    assert_eq!(store.status_counts().await.unwrap().pending, 1);
}

async fn messages_are_only_visible_to_their_account(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let message = new_message(account, Utc::now());
    store.insert_message(&message).await.unwrap();
    assert!(store.get_message(AccountId::new(), message.id).await.unwrap().is_none());
    assert!(store.get_message(account, MessageId::new()).await.unwrap().is_none());
}

async fn a_claim_takes_only_due_messages_and_never_the_same_one_twice(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let due = new_message(account, now - Duration::seconds(5));
    let future = new_message(account, now + Duration::hours(1));
    store.insert_message(&due).await.unwrap();
    store.insert_message(&future).await.unwrap();

    let lease = now + Duration::seconds(30);
    let first = store.claim_due_messages("a", now, lease, 10).await.unwrap();
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), vec![due.id]);
    assert_eq!(first[0].body, "hello");
    let second = store.claim_due_messages("b", now, lease, 10).await.unwrap();
    assert!(second.is_empty(), "a leased message is not claimable");
    let claimed = store.get_message(account, due.id).await.unwrap().unwrap();
    assert_eq!(claimed.status, MessageStatus::Sending);
}

async fn concurrent_claims_get_disjoint_batches(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let created = Utc::now() - Duration::seconds(1);
    for _ in 0..200 {
        store.insert_message(&new_message(account, created)).await.unwrap();
    }
    let now = Utc::now();
    let lease = now + Duration::seconds(30);
    let claimers = (0..4).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let owner = format!("worker-{n}");
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due_messages(&owner, now, lease, 7).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for id in claimer.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "message {id} claimed twice");
        }
    }
    assert_eq!(total, 200);
}

async fn outcomes_are_applied_only_while_the_lease_is_held(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let message = new_message(account, now);
    store.insert_message(&message).await.unwrap();
    store.claim_due_messages("owner", now, now + Duration::seconds(30), 1).await.unwrap();

    assert_eq!(store.record_outcomes("intruder", &[sent(account, message.id)]).await.unwrap(), 0);
    assert_eq!(store.get_message(account, message.id).await.unwrap().unwrap().status, MessageStatus::Sending);

    let retry_at = now + Duration::seconds(60);
    let retry = AttemptOutcome {
        message_id: message.id,
        account_id: account,
        at: now,
        result: AttemptResult::RetryScheduled {
            provider: "mock".into(),
            error: "503".into(),
            next_attempt_at: retry_at,
        },
    };
    assert_eq!(store.record_outcomes("owner", std::slice::from_ref(&retry)).await.unwrap(), 1);
    let pending = store.get_message(account, message.id).await.unwrap().unwrap();
    assert_eq!(pending.status, MessageStatus::Pending);
    assert_eq!(pending.retry_count, 1);
    assert_eq!(pending.last_error.as_deref(), Some("503"));
    assert_eq!(pending.next_attempt_at.unwrap().timestamp_millis(), retry_at.timestamp_millis());
    assert_eq!(store.record_outcomes("owner", &[retry]).await.unwrap(), 0, "no longer leased");
    assert!(
        store.claim_due_messages("owner", now, now + Duration::seconds(30), 1).await.unwrap().is_empty(),
        "not due before its retry time"
    );
}

async fn sent_and_failed_outcomes_write_their_outbox_events(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let ok = new_message(account, now);
    let bad = new_message(account, now);
    store.insert_message(&ok).await.unwrap();
    store.insert_message(&bad).await.unwrap();
    store.claim_due_messages("w", now, now + Duration::seconds(30), 10).await.unwrap();
    let failed = AttemptOutcome {
        message_id: bad.id,
        account_id: account,
        at: now,
        result: AttemptResult::Failed {
            provider: "mock".into(),
            error: "invalid number".into(),
            event: event(bad.id, "notification.failed"),
        },
    };

    assert_eq!(store.record_outcomes("w", &[sent(account, ok.id), failed]).await.unwrap(), 2);

    let ok_row = store.get_message(account, ok.id).await.unwrap().unwrap();
    assert_eq!(ok_row.status, MessageStatus::Sent);
    assert_eq!(ok_row.provider_message_id.as_deref(), Some("p-1"));
    assert!(ok_row.sent_at.is_some());
    let bad_row = store.get_message(account, bad.id).await.unwrap().unwrap();
    assert_eq!(bad_row.status, MessageStatus::Failed);
    assert_eq!(bad_row.last_error.as_deref(), Some("invalid number"));
    // Written in the outbox (the feed may hold them back a moment: see the feed's test).
    let events = store.unpublished_events(10).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event.event_type.as_str()).collect();
    assert_eq!(types, ["sms.sent", "notification.failed"]);
    assert_eq!(events[0].event.payload, json!({"message_id": ok.id}));
    let counts = store.status_counts().await.unwrap();
    assert_eq!((counts.sent, counts.failed, counts.pending), (1, 1, 0));
}

fn sweep(now: chrono::DateTime<Utc>) -> herald::model::LeaseSweep<'static> {
    herald::model::LeaseSweep {
        now,
        max_retries: [3; 4],
        provider: "mock",
        uncounted_owner: "amqp-transport",
        failed_event: &|_, _, _| event(MessageId::new(), "notification.failed"),
    }
}

async fn expired_leases_are_requeued_with_a_timeline_entry(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let message = new_message(account, now);
    store.insert_message(&message).await.unwrap();
    store.claim_due_messages("crashed", now, now + Duration::seconds(1), 1).await.unwrap();

    assert_eq!(store.requeue_expired_leases(&sweep(now)).await.unwrap().total(), 0, "lease still valid");
    assert_eq!(store.requeue_expired_leases(&sweep(now + Duration::seconds(2))).await.unwrap().retried, 1);

    let row = store.get_message(account, message.id).await.unwrap().unwrap();
    assert_eq!(row.status, MessageStatus::Pending);
    let kinds: Vec<_> =
        store.list_message_events(message.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [MessageEventKind::Accepted, MessageEventKind::LeaseExpired]);
    let later = now + Duration::seconds(3);
    let reclaimed =
        store.claim_due_messages("rescuer", later, later + Duration::seconds(30), 1).await.unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(
        store.record_outcomes("crashed", &[sent(account, message.id)]).await.unwrap(),
        0,
        "the old owner's result is dropped"
    );
}

async fn the_event_feed_is_per_account_and_ordered_by_cursor(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let message = new_message(account, now);
        store.insert_message(&message).await.unwrap();
        ids.push(message.id);
    }
    store.claim_due_messages("w", now, now + Duration::seconds(30), 10).await.unwrap();
    let outcomes: Vec<_> = ids.iter().map(|id| sent(account, *id)).collect();
    store.record_outcomes("w", &outcomes).await.unwrap();

    // On PostgreSQL an event is listed once no older transaction on the server is still
    // running, and other tests run transactions of their own: wait for that.
    let first = crate::helpers::poll(std::time::Duration::from_secs(30), || async {
        let page = store.list_events(account, FeedCursor::default(), 3).await.unwrap();
        (page.len() == 3).then_some(page)
    })
    .await
    .expect("the feed never listed the events");
    // The other two were committed in the same transaction, so they are listed too.
    let rest = store.list_events(account, first.last().unwrap().cursor(), 3).await.unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(rest.len(), 2);
    let aggregates: Vec<String> = first.iter().chain(&rest).map(|e| e.event.aggregate_id.clone()).collect();
    assert_eq!(aggregates, ids.iter().map(ToString::to_string).collect::<Vec<_>>());
    assert!(store.list_events(AccountId::new(), FeedCursor::default(), 10).await.unwrap().is_empty());
}

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

on_both_backends!(idempotency_keys_live_in_their_messages_transaction_and_expire);

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

async fn leases_move_only_from_their_holder(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    for _ in 0..3 {
        store.insert_message(&new_message(account, now - Duration::seconds(1))).await.unwrap();
    }
    let claimed = store.claim_due_messages("transport", now, now + Duration::seconds(60), 2).await.unwrap();
    let mut ids: Vec<MessageId> = claimed.iter().map(|m| m.id).collect();
    let unclaimed = store.claim_due_messages("other", now, now + Duration::seconds(60), 1).await.unwrap();
    ids.push(unclaimed[0].id);

    let taken = store
        .take_over_leases(&ids, "transport", "worker-1", now + Duration::seconds(60), now)
        .await
        .unwrap();
    let taken_ids: HashSet<MessageId> = taken.iter().map(|m| m.id).collect();
    assert_eq!(taken_ids, claimed.iter().map(|m| m.id).collect(), "only the transport's leases move");
    let again = store
        .take_over_leases(&ids, "transport", "worker-2", now + Duration::seconds(60), now)
        .await
        .unwrap();
    assert!(again.is_empty(), "a lease moves once");
    // The new holder can record results; the old one cannot.
    assert_eq!(store.record_outcomes("transport", &[sent(account, ids[0])]).await.unwrap(), 0);
    assert_eq!(store.record_outcomes("worker-1", &[sent(account, ids[0])]).await.unwrap(), 1);
}

async fn the_relay_reads_unpublished_events_in_order_and_marks_them(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let message = new_message(account, now - Duration::seconds(1));
        store.insert_message(&message).await.unwrap();
        ids.push(message.id);
    }
    store.claim_due_messages("w", now, now + Duration::seconds(60), 3).await.unwrap();
    let outcomes: Vec<AttemptOutcome> = ids.iter().map(|id| sent(account, *id)).collect();
    store.record_outcomes("w", &outcomes).await.unwrap();

    let (waiting, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!(waiting, 3);
    assert!(oldest.is_some());
    let events = store.unpublished_events(2).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].sequence < events[1].sequence, "oldest first");
    assert_eq!(events[0].account_id, account);
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(store.mark_events_published(&sequences, Utc::now()).await.unwrap(), 2);
    assert_eq!(store.mark_events_published(&sequences, Utc::now()).await.unwrap(), 0, "marked once");
    let rest = store.unpublished_events(10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].sequence > sequences[1]);
    assert_eq!(store.outbox_backlog().await.unwrap().0, 1);
}

async fn a_singleton_role_is_held_by_one_holder_at_a_time(backend: Backend) {
    let Some((store, db)) = store(backend).await else { return };
    let mut held = store.try_singleton("relay").await.unwrap().expect("the role is free");
    assert!(held.still_held().await);
    if backend == Backend::Postgres {
        // Another process (another pool on the same database) cannot take it meanwhile...
        let other = herald::store::connect(&db.url).await.unwrap();
        assert!(other.try_singleton("relay").await.unwrap().is_none());
        assert!(other.try_singleton("another role").await.unwrap().is_some());
        // ...and can once it is given up.
        drop(held);
        let taken = crate::helpers::poll(std::time::Duration::from_secs(10), || async {
            other.try_singleton("relay").await.unwrap()
        })
        .await;
        assert!(taken.is_some(), "the role is free again after its holder dropped it");
    }
}

async fn customers_are_inserted_in_bulk_in_order(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let customers: Vec<herald::model::CustomerFields> = (0..250)
        .map(|n| herald::model::CustomerFields {
            phone: format!("+2547{n:08}"),
            first_name: Some(format!("N{n}")),
            attributes: json!({"n": n}).as_object().cloned().unwrap(),
            ..Default::default()
        })
        .collect();
    let ids = store.insert_customers(account, &customers, Utc::now()).await.unwrap();
    assert_eq!(ids.len(), 250);
    for (n, id) in ids.iter().enumerate().step_by(49) {
        let customer = store.get_customer(account, *id).await.unwrap().unwrap();
        assert_eq!(customer.fields.first_name, Some(format!("N{n}")), "id {id} is customer {n}");
        assert_eq!(customer.fields.attributes["n"], n);
    }
}
