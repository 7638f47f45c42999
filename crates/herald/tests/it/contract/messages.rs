//! `MessageStore`: every method, on both backends.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use herald::model::{
    Activity, AttemptOutcome, AttemptResult, ClaimedMessage, ClientTags, DeadLetterFilter, DeliveryOutcome,
    KeyedMessage, LeaseSweep, MessageCursor, MessageEventKind, MessageSearch, NewMessage, OutboxEvent,
    QueueStats, ReceiptApplied, ReceiptKey, ReceiptUpdate, StatusCounts, SweptLeases, UNCOUNTED_LEASE_DETAIL,
};
use herald_domain::{AccountId, Channel, MessageId, MessageStatus, Recipient};
use serde_json::json;

use super::{claim_all, event, failed, new_message, now_ms, retry, sent, started_campaign, store};
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
    client_tags_are_kept_with_the_message_and_handed_to_its_claimer,
    a_deferred_outcome_waits_uncounted_until_its_time,
    released_leases_go_back_to_pending_due_at_once_and_only_from_their_owner,
    a_lease_taken_over_runs_until_its_new_expiry_and_final_messages_stay_put,
    an_expired_lease_without_retries_left_fails_the_message_with_its_event,
    an_expired_lease_of_the_uncounted_owner_is_requeued_without_using_a_retry,
    status_counts_count_every_message_by_its_status,
    queue_stats_count_pending_messages_and_the_earliest_one_due,
    dead_letters_list_the_accounts_failed_messages_newest_first_by_filter_and_cursor,
    replaying_dead_letters_requeues_failed_messages_with_a_fresh_retry_budget,
    message_events_list_the_timeline_in_the_order_it_happened,
    a_receipt_moves_only_a_sent_message_of_its_provider_and_only_once,
    search_messages_pages_the_accounts_messages_newest_first_by_every_filter_with_attempts_counted,
    activity_counts_what_was_accepted_sent_and_failed_since_and_the_dead_letters_now,
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

/// The result `result` of an attempt on `id`, recorded at `at`.
fn outcome(account: AccountId, id: MessageId, at: DateTime<Utc>, result: AttemptResult) -> AttemptOutcome {
    AttemptOutcome { message_id: id, account_id: account, at, result }
}

fn kinds(events: &[herald::model::MessageEvent]) -> Vec<MessageEventKind> {
    events.iter().map(|event| event.kind).collect()
}

async fn client_tags_are_kept_with_the_message_and_handed_to_its_claimer(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let tags = ClientTags {
        reference: Some("order-7".into()),
        idempotency_key: Some("key-7".into()),
        metadata: Some(json!({"campaign": "spring", "items": [1, 2], "vip": true})),
    };
    let single = NewMessage { tags: tags.clone(), ..new_message(account, now) };
    let batched = NewMessage { tags: tags.clone(), ..new_message(account, now) };

    store.insert_message(&single).await.unwrap();
    store.insert_messages(&[KeyedMessage { message: batched.clone(), claim: None }]).await.unwrap();

    for id in [single.id, batched.id] {
        let stored = store.get_message(account, id).await.unwrap().expect("stored");
        assert_eq!(stored.tags, tags, "message {id} keeps its tags");
        assert_eq!(stored.campaign, None);
    }
    let claimed = store.claim_due_messages("w", now, now + Duration::seconds(30), 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for message in claimed {
        assert_eq!(message.tags, tags, "the claimer gets the tags of {}", message.id);
        assert_eq!(message.recipient, single.recipient);
        assert_eq!((message.sender.as_deref(), message.user_id.as_deref()), (Some("MB"), Some("user-1")));
        assert_eq!((message.retry_count, message.campaign), (0, None));
    }
}

async fn a_deferred_outcome_waits_uncounted_until_its_time(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let message = new_message(account, now);
    store.insert_message(&message).await.unwrap();
    claim_all(store.as_ref(), "w", now).await;
    let until = now + Duration::seconds(60);
    let deferred = AttemptResult::Deferred { provider: "mock".into(), reason: "circuit open".into(), until };

    assert_eq!(store.record_outcomes("w", &[outcome(account, message.id, now, deferred)]).await.unwrap(), 1);

    let row = store.get_message(account, message.id).await.unwrap().unwrap();
    assert_eq!(row.status, MessageStatus::Pending);
    assert_eq!(row.retry_count, 0, "a deferral is not an attempt");
    assert_eq!(row.next_attempt_at, Some(until));
    assert_eq!(row.last_error.as_deref(), Some("circuit open"));
    let timeline = store.list_message_events(message.id).await.unwrap();
    assert_eq!(kinds(&timeline), [MessageEventKind::Accepted, MessageEventKind::Deferred]);
    assert!(store.unpublished_events(10).await.unwrap().is_empty(), "a deferral publishes nothing");
    let early = until - Duration::seconds(1);
    assert!(claim_all(store.as_ref(), "w", early).await.is_empty(), "not due before `until`");
    assert_eq!(claim_all(store.as_ref(), "w", until).await, [message.id]);
}

async fn released_leases_go_back_to_pending_due_at_once_and_only_from_their_owner(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    for _ in 0..3 {
        store.insert_message(&new_message(account, now - Duration::seconds(1))).await.unwrap();
    }
    let ids = claim_all(store.as_ref(), "w", now).await;
    let later = now + Duration::seconds(5);

    assert_eq!(store.release_leases("other", &ids, later).await.unwrap(), 0, "only the owner releases");
    assert_eq!(store.release_leases("w", &ids[..2], later).await.unwrap(), 2);
    assert_eq!(store.release_leases("w", &ids[..2], later).await.unwrap(), 0, "released once");
    assert_eq!(store.release_leases("w", &[], later).await.unwrap(), 0);

    for id in &ids[..2] {
        let row = store.get_message(account, *id).await.unwrap().unwrap();
        assert_eq!(row.status, MessageStatus::Pending);
        assert_eq!(row.next_attempt_at, Some(later), "due at the release");
        assert_eq!(row.retry_count, 0, "a release is not an attempt");
    }
    let kept = store.get_message(account, ids[2]).await.unwrap().unwrap();
    assert_eq!(kept.status, MessageStatus::Sending, "a lease not named is kept");
    assert_eq!(store.record_outcomes("w", &[sent(account, ids[0])]).await.unwrap(), 0, "the lease is gone");
    let reclaimed: HashSet<MessageId> = claim_all(store.as_ref(), "v", later).await.into_iter().collect();
    assert_eq!(reclaimed, ids[..2].iter().copied().collect());
}

async fn a_lease_taken_over_runs_until_its_new_expiry_and_final_messages_stay_put(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let (waiting, done) = (new_message(account, now), new_message(account, now));
    store.insert_message(&waiting).await.unwrap();
    store.insert_message(&done).await.unwrap();
    store.claim_due_messages("transport", now, now + Duration::seconds(1), 10).await.unwrap();
    store.record_outcomes("transport", &[sent(account, done.id)]).await.unwrap();

    let taken = store
        .take_over_leases(&[waiting.id, done.id], "transport", "worker", now + Duration::seconds(60), now)
        .await
        .unwrap();

    assert_eq!(taken.iter().map(|m| m.id).collect::<Vec<_>>(), [waiting.id], "a final message stays put");
    assert_eq!((taken[0].body.as_str(), taken[0].recipient.as_str()), ("hello", "+31633450007"));
    assert_eq!(store.get_message(account, done.id).await.unwrap().unwrap().status, MessageStatus::Sent);
    let past_old_lease = store.requeue_expired_leases(&sweep(now + Duration::seconds(2))).await.unwrap();
    assert_eq!(past_old_lease.total(), 0, "the lease runs until its new expiry");
    let past_new_lease = store.requeue_expired_leases(&sweep(now + Duration::seconds(61))).await.unwrap();
    assert_eq!(past_new_lease.retried, 1);
}

async fn an_expired_lease_without_retries_left_fails_the_message_with_its_event(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let plain = new_message(account, now);
    store.insert_message(&plain).await.unwrap();
    let (campaign, recipients) = started_campaign(store.as_ref(), account, 1, now).await;
    let lost = [plain.id, recipients[0].1];
    store.claim_due_messages("crashed", now, now + Duration::seconds(1), 10).await.unwrap();
    let failed_event = |message: &ClaimedMessage, error: &str, at: DateTime<Utc>| OutboxEvent {
        payload: json!({"message_id": message.id, "error": error}),
        timestamp: at,
        ..event(message.id, "notification.failed")
    };
    let later = now + Duration::seconds(2);
    let out_of_retries = LeaseSweep { max_retries: [0; 4], failed_event: &failed_event, ..sweep(later) };

    let swept = store.requeue_expired_leases(&out_of_retries).await.unwrap();

    assert_eq!(swept, SweptLeases { failed: 2, campaigns: vec![campaign], ..Default::default() });
    for id in lost {
        let row = store.get_message(account, id).await.unwrap().unwrap();
        assert_eq!(row.status, MessageStatus::Failed, "message {id}");
        assert_eq!(row.provider.as_deref(), Some("mock"), "named after the sweep's provider");
        assert_eq!(row.retry_count, 0);
        let error = row.last_error.expect("the lost attempt is the last error");
        let timeline = store.list_message_events(id).await.unwrap();
        let last = timeline.last().unwrap();
        assert_eq!(
            (last.kind, last.status, last.detail.as_deref()),
            (MessageEventKind::LeaseExpired, MessageStatus::Failed, Some(error.as_str()))
        );
        assert!(last.is_attempt());
    }
    let events = store.unpublished_events(10).await.unwrap();
    assert!(events.iter().all(|e| e.event.event_type == "notification.failed" && e.event.timestamp == later));
    let about: HashSet<String> = events.iter().map(|e| e.event.aggregate_id.clone()).collect();
    assert_eq!(about, lost.iter().map(ToString::to_string).collect());
    let dead = store.list_dead_letters(account, &DeadLetterFilter::default(), None, 10).await.unwrap();
    assert_eq!(dead.iter().map(|m| m.id).collect::<HashSet<_>>(), lost.into_iter().collect());
}

async fn an_expired_lease_of_the_uncounted_owner_is_requeued_without_using_a_retry(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let message = new_message(account, now);
    store.insert_message(&message).await.unwrap();
    store.claim_due_messages("amqp-transport", now, now + Duration::seconds(1), 1).await.unwrap();
    let later = now + Duration::seconds(2);

    let swept = store.requeue_expired_leases(&sweep(later)).await.unwrap();

    assert_eq!(swept, SweptLeases { requeued: 1, ..Default::default() });
    let row = store.get_message(account, message.id).await.unwrap().unwrap();
    assert_eq!(row.status, MessageStatus::Pending);
    assert_eq!(row.retry_count, 0, "nothing was sent under that lease");
    assert_eq!(row.next_attempt_at, Some(later), "due at once");
    let timeline = store.list_message_events(message.id).await.unwrap();
    let last = timeline.last().unwrap();
    assert_eq!(
        (last.kind, last.detail.as_deref()),
        (MessageEventKind::LeaseExpired, Some(UNCOUNTED_LEASE_DETAIL))
    );
    assert!(!last.is_attempt());
}

async fn status_counts_count_every_message_by_its_status(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    assert_eq!(store.status_counts().await.unwrap(), StatusCounts::default());
    let now = now_ms();
    for _ in 0..3 {
        store.insert_message(&new_message(account, now - Duration::seconds(1))).await.unwrap();
    }
    let claimed = claim_all(store.as_ref(), "w", now).await;
    store
        .record_outcomes("w", &[sent(account, claimed[0]), failed(account, claimed[1], "mock")])
        .await
        .unwrap();
    store.insert_message(&new_message(account, now)).await.unwrap();

    let counts = store.status_counts().await.unwrap();

    assert_eq!(counts, StatusCounts { pending: 1, sending: 1, sent: 1, failed: 1, other: 0 });
    assert_eq!(counts.total(), 4);
}

async fn queue_stats_count_pending_messages_and_the_earliest_one_due(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    assert_eq!(store.queue_stats(now).await.unwrap(), QueueStats::default());
    store.insert_message(&new_message(account, now - Duration::seconds(20))).await.unwrap();
    assert_eq!(claim_all(store.as_ref(), "w", now).await.len(), 1, "one message sending");
    for offset in [-10, -5, 60] {
        store.insert_message(&new_message(account, now + Duration::seconds(offset))).await.unwrap();
    }

    let stats = store.queue_stats(now).await.unwrap();
    let before_any_is_due = store.queue_stats(now - Duration::seconds(15)).await.unwrap();

    assert_eq!(stats, QueueStats { pending: 3, oldest_due_at: Some(now - Duration::seconds(10)) });
    assert_eq!(before_any_is_due, QueueStats { pending: 3, oldest_due_at: None });
}

/// A message to `recipient` on `channel`, made to fail through `provider`.
async fn dead_letter(
    store: &dyn herald::ports::Store,
    account: AccountId,
    channel: Channel,
    recipient: &str,
    provider: &str,
) -> MessageId {
    let now = Utc::now();
    let message = NewMessage {
        channel,
        recipient: Recipient::parse(channel, recipient).unwrap(),
        ..new_message(account, now - Duration::seconds(1))
    };
    store.insert_message(&message).await.unwrap();
    assert_eq!(claim_all(store, "w", now).await, [message.id]);
    assert_eq!(store.record_outcomes("w", &[failed(account, message.id, provider)]).await.unwrap(), 1);
    message.id
}

async fn dead_letters_list_the_accounts_failed_messages_newest_first_by_filter_and_cursor(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let sms_a = dead_letter(store.as_ref(), account, Channel::Sms, "+31633450007", "a").await;
    let email_b = dead_letter(store.as_ref(), account, Channel::Email, "amina@example.com", "b").await;
    let sms_b = dead_letter(store.as_ref(), account, Channel::Sms, "+31633450008", "b").await;
    let delivered = new_message(account, Utc::now());
    store.insert_message(&delivered).await.unwrap();
    let ids = claim_all(store.as_ref(), "w", Utc::now()).await;
    store.record_outcomes("w", &[sent(account, ids[0])]).await.unwrap();
    store.insert_message(&new_message(account, Utc::now())).await.unwrap();
    let list = |filter: DeadLetterFilter, before: Option<MessageId>, limit: u32| {
        let store = store.clone();
        async move {
            let page = store.list_dead_letters(account, &filter, before, limit).await.unwrap();
            page.into_iter().map(|m| m.id).collect::<Vec<_>>()
        }
    };
    let sms = DeadLetterFilter { channel: Some(Channel::Sms), provider: None };
    let by_b = DeadLetterFilter { channel: None, provider: Some("b".into()) };

    assert_eq!(list(DeadLetterFilter::default(), None, 10).await, [sms_b, email_b, sms_a]);
    assert_eq!(list(sms.clone(), None, 10).await, [sms_b, sms_a]);
    assert_eq!(list(by_b.clone(), None, 10).await, [sms_b, email_b]);
    assert_eq!(list(DeadLetterFilter { provider: Some("b".into()), ..sms }, None, 10).await, [sms_b]);
    assert_eq!(list(DeadLetterFilter::default(), None, 2).await, [sms_b, email_b]);
    assert_eq!(list(DeadLetterFilter::default(), Some(email_b), 2).await, [sms_a], "below the cursor");
    assert_eq!(list(by_b, Some(sms_b), 10).await, [email_b]);
    let other = store.list_dead_letters(AccountId::new(), &DeadLetterFilter::default(), None, 10).await;
    assert!(other.unwrap().is_empty(), "another account has none");
    let row = store.list_dead_letters(account, &DeadLetterFilter::default(), None, 1).await.unwrap();
    assert_eq!((row[0].status, row[0].provider.as_deref()), (MessageStatus::Failed, Some("b")));
    assert_eq!(row[0].last_error.as_deref(), Some("invalid number"));
}

async fn replaying_dead_letters_requeues_failed_messages_with_a_fresh_retry_budget(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let retried = new_message(account, now - Duration::seconds(1));
    store.insert_message(&retried).await.unwrap();
    claim_all(store.as_ref(), "w", now).await;
    store.record_outcomes("w", &[retry(account, retried.id, now)]).await.unwrap();
    claim_all(store.as_ref(), "w", now).await;
    store.record_outcomes("w", &[failed(account, retried.id, "a")]).await.unwrap();
    let email_b = dead_letter(store.as_ref(), account, Channel::Email, "amina@example.com", "b").await;
    let sms_b = dead_letter(store.as_ref(), account, Channel::Sms, "+31633450008", "b").await;
    let delivered = new_message(account, now);
    store.insert_message(&delivered).await.unwrap();
    store.claim_due_messages("w", Utc::now(), Utc::now() + Duration::seconds(60), 1).await.unwrap();
    store.record_outcomes("w", &[sent(account, delivered.id)]).await.unwrap();
    let any = DeadLetterFilter::default();
    let replay_at = now + Duration::seconds(10);
    assert_eq!(store.get_message(account, retried.id).await.unwrap().unwrap().retry_count, 1);

    let named = [retried.id, delivered.id, MessageId::new()];
    let by_ids = store.replay_dead_letters(account, Some(&named), &any, replay_at).await.unwrap();
    let elsewhere = store.replay_dead_letters(AccountId::new(), Some(&[email_b]), &any, replay_at).await;
    let none_named = store.replay_dead_letters(account, Some(&[]), &any, replay_at).await.unwrap();
    let email = DeadLetterFilter { channel: Some(Channel::Email), provider: None };
    let by_channel = store.replay_dead_letters(account, None, &email, replay_at).await.unwrap();
    let by_b = DeadLetterFilter { channel: None, provider: Some("b".into()) };
    let by_provider = store.replay_dead_letters(account, None, &by_b, replay_at).await.unwrap();

    assert_eq!(by_ids, [retried.id], "only failed messages among the ids");
    assert!(elsewhere.unwrap().is_empty(), "another account's replay skips them");
    assert!(none_named.is_empty());
    assert_eq!(by_channel, [email_b]);
    assert_eq!(by_provider, [sms_b], "the email was replayed already");
    for id in [retried.id, email_b, sms_b] {
        let row = store.get_message(account, id).await.unwrap().unwrap();
        assert_eq!(row.status, MessageStatus::Pending, "message {id}");
        assert_eq!(row.retry_count, 0, "a fresh retry budget");
        assert_eq!(row.next_attempt_at, Some(replay_at), "due at the replay");
        let timeline = store.list_message_events(id).await.unwrap();
        let last = timeline.last().unwrap();
        assert_eq!(
            (last.kind, last.status, last.at),
            (MessageEventKind::Replayed, MessageStatus::Pending, replay_at)
        );
    }
    assert_eq!(store.get_message(account, delivered.id).await.unwrap().unwrap().status, MessageStatus::Sent);
    assert!(store.list_dead_letters(account, &any, None, 10).await.unwrap().is_empty());
    assert_eq!(claim_all(store.as_ref(), "w", replay_at).await.len(), 3);
}

async fn message_events_list_the_timeline_in_the_order_it_happened(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let t0 = now_ms();
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    let message = new_message(account, t0);
    let id = message.id;
    store.insert_message(&message).await.unwrap();
    let record = |at: DateTime<Utc>, result: AttemptResult| {
        let store = store.clone();
        async move {
            assert_eq!(claim_all(store.as_ref(), "w", at).await, [id], "claimable at {at}");
            assert_eq!(store.record_outcomes("w", &[outcome(account, id, at, result)]).await.unwrap(), 1);
        }
    };

    let error = |text: &str| (String::from("mock"), String::from(text));
    let (provider, error_text) = error("503");
    record(at(1), AttemptResult::RetryScheduled { provider, error: error_text, next_attempt_at: at(2) })
        .await;
    let (provider, reason) = error("circuit open");
    record(at(2), AttemptResult::Deferred { provider, reason, until: at(3) }).await;
    let (provider, error_text) = error("invalid number");
    let failure =
        AttemptResult::Failed { provider, error: error_text, event: event(id, "notification.failed") };
    record(at(3), failure).await;
    store.replay_dead_letters(account, Some(&[id]), &DeadLetterFilter::default(), at(4)).await.unwrap();
    store.claim_due_messages("crashed", at(4), at(5), 1).await.unwrap();
    store.requeue_expired_leases(&sweep(at(6))).await.unwrap();
    let success = AttemptResult::Sent {
        provider: "mock".into(),
        provider_message_id: None,
        events: vec![event(id, "sms.sent")],
    };
    record(at(7), success).await;

    let timeline = store.list_message_events(id).await.unwrap();

    let entries: Vec<(MessageEventKind, MessageStatus, DateTime<Utc>)> =
        timeline.iter().map(|e| (e.kind, e.status, e.at)).collect();
    assert_eq!(
        entries,
        [
            (MessageEventKind::Accepted, MessageStatus::Pending, t0),
            (MessageEventKind::AttemptFailed, MessageStatus::Pending, at(1)),
            (MessageEventKind::Deferred, MessageStatus::Pending, at(2)),
            (MessageEventKind::AttemptFailed, MessageStatus::Failed, at(3)),
            (MessageEventKind::Replayed, MessageStatus::Pending, at(4)),
            (MessageEventKind::LeaseExpired, MessageStatus::Pending, at(6)),
            (MessageEventKind::AttemptSucceeded, MessageStatus::Sent, at(7)),
        ]
    );
    assert!(store.list_message_events(MessageId::new()).await.unwrap().is_empty(), "no such message");
}

async fn a_receipt_moves_only_a_sent_message_of_its_provider_and_only_once(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let [a, b, c] = [0, 1, 2].map(|_| new_message(account, now - Duration::seconds(1)));
    for message in [&a, &b, &c] {
        store.insert_message(message).await.unwrap();
    }
    claim_all(store.as_ref(), "w1", now).await;
    let sent_as = |id: MessageId, provider_id: &str| AttemptOutcome {
        result: AttemptResult::Sent {
            provider: "mock".into(),
            provider_message_id: Some(provider_id.into()),
            events: vec![event(id, "sms.sent")],
        },
        ..sent(account, id)
    };
    store.record_outcomes("w1", &[sent_as(a.id, "p-a"), sent_as(b.id, "p-b")]).await.unwrap();
    let before = store.unpublished_events(10).await.unwrap().len();

    let apply = |provider: &'static str, key: ReceiptKey, outcome: DeliveryOutcome| {
        let store = store.clone();
        async move {
            let update = ReceiptUpdate { provider, key: &key, outcome: &outcome, at: Utc::now() };
            let builder = |m: &herald::model::Message| event(m.id, "notification.delivered");
            store.apply_receipt(&update, &builder).await.unwrap()
        }
    };
    let delivered = || DeliveryOutcome::Delivered;
    let undelivered = || DeliveryOutcome::Undelivered {
        code: Some("30003".into()),
        reason: "Twilio 30003: undelivered".into(),
    };

    // By the provider's id: applied once, then unchanged.
    assert_eq!(apply("mock", ReceiptKey::Provider("p-a".into()), delivered()).await, ReceiptApplied::Applied);
    assert_eq!(
        apply("mock", ReceiptKey::Provider("p-a".into()), undelivered()).await,
        ReceiptApplied::Unchanged(MessageStatus::Delivered)
    );
    let stored = store.get_message(account, a.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Delivered);
    let timeline = store.list_message_events(a.id).await.unwrap();
    let last = timeline.last().unwrap();
    assert_eq!((last.kind, last.status), (MessageEventKind::DeliveryReceipt, MessageStatus::Delivered));
    assert!(!last.is_attempt(), "a receipt is not an attempt");

    // Another provider's receipt is not about this provider's messages.
    assert_eq!(
        apply("other", ReceiptKey::Provider("p-b".into()), delivered()).await,
        ReceiptApplied::Unknown
    );
    assert_eq!(apply("other", ReceiptKey::Herald(b.id), delivered()).await, ReceiptApplied::Unknown);
    // By herald's id, with the provider's reason kept.
    assert_eq!(apply("mock", ReceiptKey::Herald(b.id), undelivered()).await, ReceiptApplied::Applied);
    let stored = store.get_message(account, b.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Undelivered);
    assert_eq!(stored.last_error.as_deref(), Some("Twilio 30003: undelivered"));
    // Still being sent: the receipt overtook the commit.
    assert_eq!(apply("mock", ReceiptKey::Herald(c.id), delivered()).await, ReceiptApplied::NotSentYet);
    assert_eq!(store.get_message(account, c.id).await.unwrap().unwrap().status, MessageStatus::Sending);
    assert_eq!(
        apply("mock", ReceiptKey::Herald(MessageId::new()), delivered()).await,
        ReceiptApplied::Unknown
    );
    assert_eq!(
        apply("mock", ReceiptKey::Provider("p-zzz".into()), delivered()).await,
        ReceiptApplied::Unknown
    );

    // One event per receipt applied, in the same transaction as the move.
    assert_eq!(store.unpublished_events(10).await.unwrap().len(), before + 2);
    let counts = store.status_counts().await.unwrap();
    assert_eq!((counts.sent, counts.sending), (2, 1), "delivered and undelivered still count as sent");
}

async fn search_messages_pages_the_accounts_messages_newest_first_by_every_filter_with_attempts_counted(
    backend: Backend,
) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let at = |seconds_ago: i64| now - Duration::seconds(seconds_ago);
    // Oldest first: a sent SMS, one that failed after a retry, a pending email, a campaign.
    let first = new_message(account, at(50));
    let second = NewMessage {
        recipient: Recipient::parse(Channel::Sms, "+31633450008").unwrap(),
        ..new_message(account, at(40))
    };
    for message in [&first, &second] {
        store.insert_message(message).await.unwrap();
    }
    claim_all(store.as_ref(), "w", now).await;
    store.record_outcomes("w", &[sent(account, first.id), retry(account, second.id, now)]).await.unwrap();
    claim_all(store.as_ref(), "w", now).await;
    store.record_outcomes("w", &[failed(account, second.id, "mock")]).await.unwrap();
    let email = NewMessage {
        channel: Channel::Email,
        recipient: Recipient::parse(Channel::Email, "amina@example.com").unwrap(),
        ..new_message(account, at(30))
    };
    store.insert_message(&email).await.unwrap();
    let (campaign, recipients) = started_campaign(store.as_ref(), account, 2, at(20)).await;

    let search = |search: MessageSearch, before: Option<MessageCursor>, limit: u32| {
        let store = store.clone();
        async move { store.search_messages(account, &search, before, limit).await.unwrap() }
    };
    let ids = |found: &[herald::model::FoundMessage]| found.iter().map(|f| f.message.id).collect::<Vec<_>>();
    let all = search(MessageSearch::default(), None, 10).await;
    let campaign_ids: Vec<MessageId> = recipients.iter().map(|(_, id)| *id).collect();
    assert_eq!(all.len(), 5);
    // The campaign's two share a creation time: by id then, newest (greatest) first.
    let mut newest_campaign = campaign_ids.clone();
    newest_campaign.sort_by_key(|id| std::cmp::Reverse(id.as_uuid()));
    assert_eq!(ids(&all), [newest_campaign.as_slice(), &[email.id, second.id, first.id]].concat());
    let attempts: Vec<u32> = all.iter().map(|f| f.attempts).collect();
    assert_eq!(attempts, [0, 0, 0, 2, 1], "a retry and a failure are two attempts");

    let failed_only = MessageSearch { status: Some(MessageStatus::Failed), ..MessageSearch::default() };
    assert_eq!(ids(&search(failed_only, None, 10).await), [second.id]);
    let emails = MessageSearch { channel: Some(Channel::Email), ..MessageSearch::default() };
    assert_eq!(ids(&search(emails, None, 10).await), [email.id]);
    let to_first = MessageSearch { recipient: Some("+31633450007".into()), ..MessageSearch::default() };
    assert_eq!(ids(&search(to_first.clone(), None, 10).await), [first.id]);
    let sent_sms_to_first =
        MessageSearch { status: Some(MessageStatus::Sent), channel: Some(Channel::Sms), ..to_first };
    assert_eq!(ids(&search(sent_sms_to_first, None, 10).await), [first.id]);
    let of_campaign = MessageSearch { campaign: Some(campaign), ..MessageSearch::default() };
    let found = search(of_campaign, None, 10).await;
    assert_eq!(ids(&found), newest_campaign);
    assert!(found.iter().all(|f| f.message.campaign.map(|c| c.campaign_id) == Some(campaign)));

    // Pages of two, each starting below the last row of the one before.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = search(MessageSearch::default(), before, 2).await;
        before = page.last().map(|f| MessageCursor::from(&f.message));
        if page.is_empty() {
            break;
        }
        pages.push(ids(&page));
    }
    assert_eq!(pages.concat(), ids(&all));
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let elsewhere_search = store.search_messages(AccountId::new(), &MessageSearch::default(), None, 10).await;
    assert!(elsewhere_search.unwrap().is_empty(), "another account sees none of them");
}

async fn activity_counts_what_was_accepted_sent_and_failed_since_and_the_dead_letters_now(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let (hour_ago, minute_ago, since) =
        (now - Duration::hours(1), now - Duration::minutes(1), now - Duration::minutes(5));
    let old_sent = new_message(account, hour_ago);
    let old_sent_lately = new_message(account, hour_ago);
    let old_failed = new_message(account, hour_ago);
    let new_sent = new_message(account, minute_ago);
    let new_failed = new_message(account, minute_ago);
    let replayed = new_message(account, minute_ago);
    for message in [&old_sent, &old_sent_lately, &old_failed, &new_sent, &new_failed, &replayed] {
        store.insert_message(message).await.unwrap();
    }
    claim_all(store.as_ref(), "w", now).await;
    let sent_at = |id, at| outcome(account, id, at, sent(account, id).result);
    let failed_at = |id, at| outcome(account, id, at, failed(account, id, "mock").result);
    let outcomes = [
        sent_at(old_sent.id, hour_ago),
        sent_at(old_sent_lately.id, minute_ago),
        failed_at(old_failed.id, hour_ago),
        sent_at(new_sent.id, now),
        failed_at(new_failed.id, now),
        failed_at(replayed.id, now),
    ];
    assert_eq!(store.record_outcomes("w", &outcomes).await.unwrap(), 6);
    let all = DeadLetterFilter::default();
    assert_eq!(
        store.replay_dead_letters(account, Some(&[replayed.id]), &all, now).await.unwrap(),
        [replayed.id]
    );
    store.insert_message(&new_message(account, now)).await.unwrap();

    assert_eq!(
        store.activity(account, since).await.unwrap(),
        Activity {
            accepted: 4,     // new_sent, new_failed, replayed and the pending one
            sent: 2,         // old_sent_lately, new_sent
            failed: 1,       // new_failed: the replayed one is in flight again
            dead_letters: 2, // old_failed, new_failed
        }
    );
    assert_eq!(store.activity(AccountId::new(), since).await.unwrap(), Activity::default());
    let everything = store.activity(account, hour_ago).await.unwrap();
    assert_eq!((everything.accepted, everything.sent, everything.failed), (7, 3, 2));
}
