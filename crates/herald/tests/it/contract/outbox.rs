//! `OutboxStore`: the event feed and the relay's view of the outbox, on both backends.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald::{
    model::{AttemptOutcome, AttemptResult, FeedCursor, OutboxEvent, StoredEvent},
    ports::Store,
};
use herald_domain::{AccountId, EventId};
use serde_json::json;

use super::{claim_all, new_message, now_ms, sent, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    the_event_feed_is_per_account_and_ordered_by_cursor,
    the_relay_reads_unpublished_events_in_order_and_marks_them,
    events_keep_their_envelope_in_the_feed_and_for_the_relay,
    the_event_feed_lists_nothing_after_its_last_cursor_and_keeps_published_events,
    the_outbox_backlog_counts_unpublished_events_and_dates_the_oldest,
);

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

/// A message of `account` sent by "mock", publishing `event` (stamped `at`) about it.
async fn publish(
    store: &dyn Store,
    account: AccountId,
    at: DateTime<Utc>,
    user_id: Option<&str>,
) -> OutboxEvent {
    let message = new_message(account, at);
    store.insert_message(&message).await.unwrap();
    assert_eq!(claim_all(store, "w", at).await, [message.id]);
    let event = OutboxEvent {
        event_id: EventId::new(),
        event_type: "sms.sent".into(),
        aggregate_id: message.id.to_string(),
        user_id: user_id.map(Into::into),
        payload: json!({"message_id": message.id, "parts": 2, "tags": ["a", "b"], "cost": {"eur": 0.07}}),
        metadata: json!({"source": "test", "trace": null}),
        timestamp: at,
    };
    let result = AttemptResult::Sent {
        provider: "mock".into(),
        provider_message_id: None,
        events: vec![event.clone()],
    };
    let outcome = AttemptOutcome { message_id: message.id, account_id: account, at, result };
    assert_eq!(store.record_outcomes("w", &[outcome]).await.unwrap(), 1);
    event
}

/// The account's feed from `after`, once it lists `count` events. On PostgreSQL an event is
/// listed once no older transaction on the server is still running, and other tests run
/// transactions of their own: this waits for that.
async fn feed(
    store: &Arc<dyn Store>,
    account: AccountId,
    after: FeedCursor,
    count: usize,
) -> Vec<StoredEvent> {
    crate::helpers::poll(std::time::Duration::from_secs(30), || async {
        let page = store.list_events(account, after, 100).await.unwrap();
        (page.len() >= count).then_some(page)
    })
    .await
    .unwrap_or_else(|| panic!("the feed never listed {count} events"))
}

async fn events_keep_their_envelope_in_the_feed_and_for_the_relay(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let with_user = publish(store.as_ref(), account, now_ms(), Some("user-7")).await;
    let without_user = publish(store.as_ref(), account, now_ms(), None).await;

    let listed = feed(&store, account, FeedCursor::default(), 2).await;
    let relayed = store.unpublished_events(10).await.unwrap();

    for events in [&listed, &relayed] {
        let envelopes: Vec<&OutboxEvent> = events.iter().map(|e| &e.event).collect();
        assert_eq!(envelopes, [&with_user, &without_user], "every field as written");
        assert!(events.iter().all(|e| e.account_id == account));
    }
    assert_eq!(listed, relayed, "the same rows, at the same positions");
}

async fn the_event_feed_lists_nothing_after_its_last_cursor_and_keeps_published_events(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    for _ in 0..3 {
        publish(store.as_ref(), account, now_ms(), None).await;
    }
    let all = feed(&store, account, FeedCursor::default(), 3).await;
    let sequences: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    store.mark_events_published(&sequences, Utc::now()).await.unwrap();

    let after_last = store.list_events(account, all[2].cursor(), 10).await.unwrap();
    let after_first = store.list_events(account, all[0].cursor(), 1).await.unwrap();
    let again = store.list_events(account, FeedCursor::default(), 10).await.unwrap();

    assert!(after_last.is_empty(), "the cursor is exclusive");
    assert_eq!(after_first, all[1..2], "the event after the cursor, up to the limit");
    assert_eq!(again, all, "published events stay in the feed");
}

async fn the_outbox_backlog_counts_unpublished_events_and_dates_the_oldest(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
    let now = now_ms();
    let older = now - Duration::seconds(10);
    publish(store.as_ref(), account, older, None).await;
    publish(store.as_ref(), account, now, None).await;
    let waiting = store.unpublished_events(10).await.unwrap();
    let written_older = waiting.iter().find(|e| e.event.timestamp == older).unwrap().sequence;
    let written_newer = waiting.iter().find(|e| e.event.timestamp == now).unwrap().sequence;

    assert_eq!(store.outbox_backlog().await.unwrap(), (2, Some(older)), "dated by the oldest");
    assert_eq!(store.mark_events_published(&[written_older], Utc::now()).await.unwrap(), 1);
    assert_eq!(store.outbox_backlog().await.unwrap(), (1, Some(now)));
    assert_eq!(store.mark_events_published(&[], Utc::now()).await.unwrap(), 0);
    assert_eq!(store.mark_events_published(&[written_newer], Utc::now()).await.unwrap(), 1);
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
}
