//! `OutboxStore`: the event feed and the relay's view of the outbox, on both backends.

use chrono::{Duration, Utc};
use herald::model::{AttemptOutcome, FeedCursor};
use herald_domain::AccountId;

use super::{new_message, sent, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    the_event_feed_is_per_account_and_ordered_by_cursor,
    the_relay_reads_unpublished_events_in_order_and_marks_them,
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
