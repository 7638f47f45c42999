//! The command inlet's and the outbox relay's logic (services::commands, services::relay)
//! against in-memory ports (memory_ports.rs) and a real store: validation, idempotency,
//! dead-lettering, confirm-then-mark. amqp.rs and amqp_dotnet.rs run the same services
//! against RabbitMQ.

use std::{sync::Arc, time::Duration};

use herald::{
    config::IdempotencyConfig,
    metrics::Metrics,
    ports::{Stopped, Store},
    services::{
        commands::Commands,
        intake::Intake,
        relay::{Ended, OutboxRelay, RelayError, Round},
    },
};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{on_both_backends, Backend, TestApp, TestDb},
    memory_ports::{MemoryCommands, MemoryEvents, Script, Settled},
};

on_both_backends!(
    a_valid_command_is_stored_then_acknowledged,
    an_invalid_command_is_dead_lettered_with_its_reason_and_nothing_is_stored,
    a_repeated_idempotency_key_makes_one_message_and_both_are_acknowledged,
    a_key_reused_for_another_command_is_dead_lettered,
    when_the_publisher_fails_nothing_is_marked_and_the_next_round_publishes_again,
    events_are_marked_published_only_after_their_confirm_in_order,
    an_unroutable_event_stays_in_the_outbox_with_the_events_after_it,
    a_refused_event_keeps_the_confirmed_ones_before_it_marked_and_fails_the_round,
    at_shutdown_the_relay_flushes_every_waiting_event_in_order,
);

async fn store(backend: Backend) -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create(backend).await?;
    let store = herald::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}

async fn commands(store: &Arc<dyn Store>) -> Commands {
    let metrics = Arc::new(Metrics::new());
    let routing = Arc::new(herald::config::Config::default().routing());
    let intake = Intake::new(
        store.clone(),
        IdempotencyConfig::default(),
        metrics.clone(),
        Arc::new(Notify::new()),
        routing,
        "herald".into(),
    );
    Commands {
        intake,
        account: store.ensure_default_account().await.unwrap(),
        origin: "herald.send_sms".into(),
        batch_size: 200,
        metrics,
    }
}

/// Runs the command service over everything `source` holds.
async fn consume_all(store: &Arc<dyn Store>, source: &mut MemoryCommands) {
    let commands = commands(store).await;
    let shutdown = CancellationToken::new();
    tokio::time::timeout(Duration::from_secs(30), commands.consume(source, &shutdown))
        .await
        .expect("the commands are handled")
        .expect("the in-memory source does not fail");
}

async fn a_valid_command_is_stored_then_acknowledged(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let mut source = MemoryCommands::new(store.clone());
    let command =
        json!({"PhoneNumber": "+254712345678", "SmsText": "Payment received", "Reference": "order-1"});
    source.push(&command.to_string(), Some("m-1"));
    consume_all(&store, &mut source).await;

    let settled = source.settlements();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].settled, Settled::Acked);
    assert_eq!(settled[0].messages_stored, 1, "the message was committed before the ack");
    assert_eq!(store.status_counts().await.unwrap().pending, 1);
}

async fn an_invalid_command_is_dead_lettered_with_its_reason_and_nothing_is_stored(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let mut source = MemoryCommands::new(store.clone());
    source.push("{this is not json", None);
    source.push(&json!({"phone_number": "12", "sms_text": "hi"}).to_string(), None);
    source.push(
        &json!({"phoneNumber": "+254712345678", "phone_number": "+254712345678", "smsText": "hi"})
            .to_string(),
        None,
    );
    consume_all(&store, &mut source).await;

    let reasons: Vec<String> = source
        .settlements()
        .into_iter()
        .map(|s| match s.settled {
            Settled::DeadLettered(reason) => reason,
            other => panic!("{} was {other:?}", s.payload),
        })
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(reasons[0].contains("not valid JSON"), "{reasons:?}");
    assert!(reasons[1].contains("'phone_number' must be a phone number"), "{reasons:?}");
    assert!(reasons[2].contains("gives 'phone_number' more than once"), "{reasons:?}");
    assert_eq!(store.status_counts().await.unwrap().total(), 0, "nothing stored");
}

async fn a_repeated_idempotency_key_makes_one_message_and_both_are_acknowledged(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let command =
        json!({"phone_number": "+254712345678", "sms_text": "Your code is 1234", "idempotency_key": "otp-1"});
    // The same key in one batch, in a later batch, and in another spelling.
    let mut source = MemoryCommands::new(store.clone());
    source.push(&command.to_string(), None);
    source.push(&command.to_string(), None);
    consume_all(&store, &mut source).await;
    let dotnet =
        json!({"PhoneNumber": "+254712345678", "SmsText": "Your code is 1234", "IdempotencyKey": "otp-1"});
    source.push(&dotnet.to_string(), None);
    consume_all(&store, &mut source).await;

    let settled = source.settlements();
    assert_eq!(settled.len(), 3);
    assert!(settled.iter().all(|s| s.settled == Settled::Acked), "{settled:?}");
    assert_eq!(store.status_counts().await.unwrap().total(), 1, "one message for one key");
}

async fn a_key_reused_for_another_command_is_dead_lettered(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let mut source = MemoryCommands::new(store.clone());
    source.push(
        &json!({"phone_number": "+254712345678", "sms_text": "first", "idempotency_key": "k"}).to_string(),
        None,
    );
    consume_all(&store, &mut source).await;
    source.push(
        &json!({"phone_number": "+254712345678", "sms_text": "other", "idempotency_key": "k"}).to_string(),
        None,
    );
    consume_all(&store, &mut source).await;

    let settled = source.settlements();
    assert_eq!(settled[0].settled, Settled::Acked);
    assert!(
        matches!(&settled[1].settled, Settled::DeadLettered(reason) if reason.contains("already used for a different command")),
        "{settled:?}"
    );
    assert_eq!(store.status_counts().await.unwrap().total(), 1);
}

/// An app without a broker: its dispatcher sends `count` messages and leaves their
/// `sms.sent` events waiting in the outbox for a relay.
async fn app_with_waiting_events(backend: Backend, count: usize) -> Option<TestApp> {
    let app = TestApp::spawn(backend).await?;
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(app.send_notification("+254712345678", &format!("event {n}")).await);
    }
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    assert_eq!(app.store.outbox_backlog().await.unwrap().0, count as u64, "one event per sent message");
    Some(app)
}

fn relay(store: &Arc<dyn Store>, batch_size: u32) -> OutboxRelay {
    OutboxRelay {
        store: store.clone(),
        metrics: Arc::new(Metrics::new()),
        batch_size,
        poll_interval: Duration::from_millis(20),
    }
}

async fn unpublished(store: &Arc<dyn Store>) -> Vec<i64> {
    store.unpublished_events(1_000).await.unwrap().iter().map(|e| e.sequence).collect()
}

async fn when_the_publisher_fails_nothing_is_marked_and_the_next_round_publishes_again(backend: Backend) {
    let Some(app) = app_with_waiting_events(backend, 3).await else { return };
    let relay = relay(&app.store, 10);
    let mut publisher = MemoryEvents::new(app.store.clone()).then(Script::Fail);
    let waiting = unpublished(&app.store).await;

    let failed = relay.round(&mut publisher).await;
    assert!(matches!(failed, Err(RelayError::Publish(_))), "{failed:?}");
    assert_eq!(unpublished(&app.store).await, waiting, "nothing marked");

    assert_eq!(relay.round(&mut publisher).await.unwrap(), Round::Done { full: false });
    assert!(unpublished(&app.store).await.is_empty());
    let calls = publisher.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].sequences, waiting, "the retry publishes the same events, in order");
    app.stop().await;
}

async fn events_are_marked_published_only_after_their_confirm_in_order(backend: Backend) {
    let Some(app) = app_with_waiting_events(backend, 5).await else { return };
    let relay = relay(&app.store, 2);
    let mut publisher = MemoryEvents::new(app.store.clone());
    let waiting = unpublished(&app.store).await;

    assert_eq!(relay.round(&mut publisher).await.unwrap(), Round::Done { full: true });
    assert_eq!(unpublished(&app.store).await, waiting[2..], "the first batch, once confirmed");
    assert_eq!(relay.round(&mut publisher).await.unwrap(), Round::Done { full: true });
    assert_eq!(relay.round(&mut publisher).await.unwrap(), Round::Done { full: false });
    assert!(unpublished(&app.store).await.is_empty());

    let waiting_at_confirm: Vec<u64> = publisher.calls().iter().map(|c| c.waiting_at_confirm).collect();
    assert_eq!(waiting_at_confirm, [5, 3, 1], "no event of a batch was marked before its confirm");
    assert_eq!(publisher.confirmed, waiting, "oldest first");
    app.stop().await;
}

async fn an_unroutable_event_stays_in_the_outbox_with_the_events_after_it(backend: Backend) {
    let Some(app) = app_with_waiting_events(backend, 4).await else { return };
    let relay = relay(&app.store, 10);
    let mut publisher = MemoryEvents::new(app.store.clone()).then(Script::StopAfter(1, Stopped::Unrouted));
    let waiting = unpublished(&app.store).await;

    assert_eq!(relay.round(&mut publisher).await.unwrap(), Round::Unrouted);
    assert_eq!(unpublished(&app.store).await, waiting[1..], "only the confirmed prefix is marked");
    relay.round(&mut publisher).await.unwrap();
    assert_eq!(publisher.calls()[1].sequences, waiting[1..], "tried again from the unrouted event");
    assert!(unpublished(&app.store).await.is_empty());
    app.stop().await;
}

async fn a_refused_event_keeps_the_confirmed_ones_before_it_marked_and_fails_the_round(backend: Backend) {
    let Some(app) = app_with_waiting_events(backend, 3).await else { return };
    let relay = relay(&app.store, 10);
    let mut publisher = MemoryEvents::new(app.store.clone()).then(Script::StopAfter(2, Stopped::Refused));
    let waiting = unpublished(&app.store).await;

    let refused = relay.round(&mut publisher).await;
    assert!(matches!(refused, Err(RelayError::Refused(_))), "the publisher reconnects: {refused:?}");
    assert_eq!(unpublished(&app.store).await, waiting[2..]);
    app.stop().await;
}

async fn at_shutdown_the_relay_flushes_every_waiting_event_in_order(backend: Backend) {
    let Some(app) = app_with_waiting_events(backend, 5).await else { return };
    let relay = relay(&app.store, 2);
    let mut publisher = MemoryEvents::new(app.store.clone());
    let waiting = unpublished(&app.store).await;
    let mut lease = relay.take_role(&CancellationToken::new()).await.expect("the role is free");
    let shutdown = CancellationToken::new();
    shutdown.cancel();

    let ended = relay.relay(&mut publisher, &mut *lease, &shutdown).await.unwrap();
    assert_eq!(ended, Ended::Shutdown);
    assert_eq!(publisher.confirmed, waiting, "every event, oldest first");
    assert!(unpublished(&app.store).await.is_empty());
    app.stop().await;
}
