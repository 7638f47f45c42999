//! `MessageStore`: every method, on both backends.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use herald::model::{AttemptOutcome, AttemptResult, MessageEventKind};
use herald_domain::{AccountId, MessageId, MessageStatus};
use serde_json::json;

use super::{event, new_message, sent, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    an_inserted_message_reads_back_pending_with_an_accepted_event,
    messages_are_only_visible_to_their_account,
    a_claim_takes_only_due_messages_and_never_the_same_one_twice,
    concurrent_claims_get_disjoint_batches,
    outcomes_are_applied_only_while_the_lease_is_held,
    sent_and_failed_outcomes_write_their_outbox_events,
    expired_leases_are_requeued_with_a_timeline_entry,
    leases_move_only_from_their_holder,
);

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
