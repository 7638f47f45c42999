//! RabbitMQ: `SendSms` commands in, events out, against the real broker.

use std::time::Duration;

use herald::app::Roles;
use serde_json::json;

use crate::helpers::assert_database_matches_provider;
use crate::{
    broker::{BrokerProxy, TestBroker},
    helpers::{
        on_both_backends, poll, seed_backlog, spawn_herald, wait_until, Backend, MockProviderServer, TestApp,
        TestDb,
    },
};

on_both_backends!(
    rabbitmq;
    a_send_sms_command_is_sent_once_and_announced_on_the_exchange,
    the_same_command_twice_is_sent_once_and_acknowledged_twice,
    a_malformed_command_is_dead_lettered_with_its_reason_and_the_consumer_goes_on,
    commands_and_events_survive_the_broker_dropping_connections,
    while_the_broker_is_away_http_intake_goes_on_and_the_relay_catches_up,
    the_amqp_job_transport_sends_every_message_once,
    with_the_amqp_job_transport_a_worker_killed_mid_drain_loses_nothing,
);

const DEADLINE: Duration = Duration::from_secs(30);

async fn start(backend: Backend) -> Option<(TestBroker, TestApp)> {
    let broker = TestBroker::connect().await?;
    let app = TestApp::spawn_with(backend, Roles::ALL, |c| broker.configure(c)).await?;
    Some((broker, app))
}

async fn a_send_sms_command_is_sent_once_and_announced_on_the_exchange(backend: Backend) {
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    let command = json!({
        "phone_number": "+254712345678",
        "sms_text": "Payment of KES 500 received",
        "idempotency_key": "payment-42",
        "reference": "order-42",
        "user_id": "customer-7",
        "metadata": {"campaign": "receipts"},
    });
    broker.publish_command(command.to_string().as_bytes(), None).await;

    let events = tap.wait_for(1, DEADLINE).await;
    let event = &events[0];
    assert_eq!(event.routing_key, "sms.sent");
    assert_eq!(event.kind.as_deref(), Some("sms.sent"));
    assert_eq!(event.message_id.as_deref(), event.body["event_id"].as_str(), "message_id is the event id");
    let payload = &event.body["payload"];
    assert_eq!(payload["idempotency_key"], "payment-42");
    assert_eq!(payload["reference"], "order-42");
    assert_eq!(payload["client_metadata"], json!({"campaign": "receipts"}));
    assert_eq!(event.body["user_id"], "customer-7");
    assert_eq!(payload["phone_number"], "+254712345678");
    assert_eq!(app.mock.calls(), 1, "one provider call");
    let deliveries = app.mock.deliveries();
    assert_eq!(deliveries[0].body, "Payment of KES 500 received");
    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="accepted"}"#, 1.0).await;
    // Published and marked: nothing waits in the outbox.
    assert!(wait_until(DEADLINE, || async { app.store.outbox_backlog().await.unwrap().0 == 0 }).await);
    app.stop().await;
    broker.cleanup().await;
}

async fn the_same_command_twice_is_sent_once_and_acknowledged_twice(backend: Backend) {
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    let command =
        json!({"phone_number": "+254712345678", "sms_text": "Your code is 1234", "idempotency_key": "otp-1"});
    broker.publish_command(command.to_string().as_bytes(), None).await;
    broker.publish_command(command.to_string().as_bytes(), None).await;
    // A redelivery identified by its AMQP message_id only, too.
    let unkeyed = json!({"phone_number": "+254712345678", "sms_text": "Your code is 5678"});
    broker.publish_command(unkeyed.to_string().as_bytes(), Some("msg-1")).await;
    broker.publish_command(unkeyed.to_string().as_bytes(), Some("msg-1")).await;

    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="accepted"}"#, 2.0).await;
    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="replayed"}"#, 2.0).await;
    tap.wait_for(2, DEADLINE).await;
    assert_eq!(app.store.status_counts().await.unwrap().sent, 2, "one message per distinct command");
    assert_eq!(app.mock.calls(), 2, "one provider call per distinct command");
    assert_eq!(broker.ready_count(&broker.config.command_queue).await, 0, "all four acknowledged");
    // No third event shows up late.
    assert!(!wait_until(Duration::from_millis(300), || async { tap.events().len() > 2 }).await);
    app.stop().await;
    broker.cleanup().await;
}

async fn a_malformed_command_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(backend: Backend) {
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    broker.publish_command(b"{this is not json", None).await;
    let no_number = json!({"phone_number": "12", "sms_text": "hi"});
    broker.publish_command(no_number.to_string().as_bytes(), None).await;
    let empty_text = json!({"phone_number": "+254712345678", "sms_text": ""});
    broker.publish_command(empty_text.to_string().as_bytes(), None).await;
    let good = json!({"phone_number": "+254712345678", "sms_text": "still here"});
    broker.publish_command(good.to_string().as_bytes(), None).await;

    tap.wait_for(1, DEADLINE).await;
    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="rejected"}"#, 3.0).await;
    let mut reasons = Vec::new();
    while let Some((body, reason)) = broker.next_dead_letter().await {
        reasons
            .push((String::from_utf8_lossy(&body).into_owned(), reason.expect("the reason header is set")));
    }
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().any(|(body, r)| body.starts_with("{this") && r.contains("not valid JSON")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|(_, r)| r.contains("'phone_number'")), "{reasons:?}");
    assert!(reasons.iter().any(|(_, r)| r.contains("'sms_text'")), "{reasons:?}");
    let counts = app.store.status_counts().await.unwrap();
    assert_eq!(counts.sent, 1, "only the valid command became a message");
    assert_eq!(broker.ready_count(&broker.config.command_queue).await, 0, "nothing loops back");
    app.stop().await;
    broker.cleanup().await;
}

async fn commands_and_events_survive_the_broker_dropping_connections(backend: Backend) {
    const COMMANDS: usize = 5_000;
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    let publish = async {
        for n in 0..COMMANDS {
            let command = json!({"phone_number": "+254712345678", "sms_text": format!("message {n}")});
            broker.publish_command(command.to_string().as_bytes(), Some(&format!("cmd-{n}"))).await;
        }
    };
    let disrupt = async {
        // Twice, while commands flow: once early, once mid-way.
        for at_least in [COMMANDS as u64 / 10, COMMANDS as u64 / 2] {
            assert!(
                wait_until(Duration::from_secs(120), || async {
                    app.store.status_counts().await.unwrap().sent >= at_least
                })
                .await
            );
            assert!(broker.close_herald_connections() > 0, "herald's connections were found and closed");
        }
    };
    tokio::join!(publish, disrupt);

    let all_sent = wait_until(Duration::from_secs(180), || async {
        app.store.status_counts().await.unwrap().sent == COMMANDS as u64
    })
    .await;
    let counts = app.store.status_counts().await.unwrap();
    assert!(all_sent, "every command became one sent message: {counts:?}");
    assert!(
        wait_until(Duration::from_secs(120), || async { app.store.outbox_backlog().await.unwrap().0 == 0 })
            .await,
        "the relay catches up"
    );
    let events = tap.wait_for(COMMANDS, Duration::from_secs(60)).await;
    let distinct: std::collections::HashSet<_> = events.iter().filter_map(|e| e.message_id.clone()).collect();
    assert_eq!(distinct.len(), COMMANDS, "every event published at least once");
    assert_eq!(app.mock.calls(), COMMANDS as u64, "no command became a second message");
    app.stop().await;
    broker.cleanup().await;
}

async fn the_amqp_job_transport_sends_every_message_once(backend: Backend) {
    let Some(broker) = TestBroker::connect().await else { return };
    let Some(app) = TestApp::spawn_with(backend, Roles::ALL, |c| {
        broker.configure(c);
        c.job_transport = herald::config::JobTransport::Amqp;
    })
    .await
    else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(app.send_notification("+254712345678", &format!("via the jobs queue {n}")).await);
    }
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    app.wait_for_metric(r#"herald_amqp_jobs_total{outcome="processed"}"#, 50.0).await;
    assert_eq!(app.mock.calls(), 50);
    assert_eq!(broker.ready_count(&broker.config.jobs_queue).await, 0);
    app.stop().await;
    broker.cleanup().await;
}

async fn with_the_amqp_job_transport_a_worker_killed_mid_drain_loses_nothing(backend: Backend) {
    const MESSAGES: usize = 2_000;
    let Some(broker) = TestBroker::connect().await else { return };
    let Some(db) = TestDb::create(backend).await else { return };
    let store = herald::store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let ids = seed_backlog(&store, MESSAGES).await;
    let provider =
        MockProviderServer::start(herald::mock_provider::Knobs { latency_ms: 20, ..Default::default() })
            .await;
    let mut env = broker.env();
    env.extend(
        [
            ("HERALD_JOB_TRANSPORT", "amqp"),
            ("HERALD_DISPATCH__BATCH_SIZE", "50"),
            ("HERALD_DISPATCH__CONCURRENCY", "25"),
            ("HERALD_DISPATCH__PIPELINES", "2"),
            ("HERALD_DISPATCH__LEASE_SECS", "2"),
            ("HERALD_DISPATCH__PROVIDER_TIMEOUT_MS", "400"),
            ("HERALD_DISPATCH__POLL_INTERVAL_MS", "100"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut first = spawn_herald("worker", &db.url, &provider.base_url, &env);
    let reached =
        poll(Duration::from_secs(60), || async { (provider.stats().await.accepted >= 400).then_some(()) });
    assert!(reached.await.is_some(), "the first worker sends");
    first.kill_hard();
    let at_kill = store.status_counts().await.unwrap();
    assert!(at_kill.sent < MESSAGES as u64, "killed mid-drain: {at_kill:?}");

    let _second = spawn_herald("worker", &db.url, &provider.base_url, &env);
    let all_sent = wait_until(Duration::from_secs(120), || async {
        store.status_counts().await.unwrap().sent == MESSAGES as u64
    })
    .await;
    assert!(all_sent, "every message ends sent: {:?}", store.status_counts().await.unwrap());
    let stats = provider.stats().await;
    assert_eq!(stats.unique_references, MESSAGES as u64, "every message reached the provider");
    // A batch per pipeline was in flight at the kill.
    assert!(stats.duplicates <= 2 * 50, "duplicates ({}) exceed what was in flight", stats.duplicates);
    assert_database_matches_provider(&store, &ids, &provider).await;
    broker.cleanup().await;
}

/// The scale-out layout: one `herald api` consuming commands, two `herald worker`s taking
/// message ids from the jobs queue, one PostgreSQL database, one RabbitMQ.
#[crate::harness::test(postgres, rabbitmq)]
async fn an_api_and_two_workers_share_one_database_and_one_broker() {
    const COMMANDS: usize = 1_000;
    let Some(broker) = TestBroker::connect().await else { return };
    let Some(db) = TestDb::create(Backend::Postgres).await else { return };
    let provider =
        MockProviderServer::start(herald::mock_provider::Knobs { latency_ms: 5, ..Default::default() }).await;
    let tap = broker.tap().await;
    let mut env = broker.env();
    env.push(("HERALD_JOB_TRANSPORT".into(), "amqp".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _api = spawn_herald("api", &db.url, &provider.base_url, &env);
    let _worker_a = spawn_herald("worker", &db.url, &provider.base_url, &env);
    let _worker_b = spawn_herald("worker", &db.url, &provider.base_url, &env);

    for n in 0..COMMANDS {
        let command = json!({"phone_number": "+254712345678", "sms_text": format!("scale-out {n}")});
        broker.publish_command(command.to_string().as_bytes(), Some(&format!("scale-{n}"))).await;
    }
    let events = tap.wait_for(COMMANDS, Duration::from_secs(120)).await;
    let distinct: std::collections::HashSet<_> =
        events.iter().filter_map(|e| e.body["aggregate_id"].as_str().map(str::to_owned)).collect();
    assert_eq!(distinct.len(), COMMANDS, "one sms.sent per command");
    let stats = provider.stats().await;
    assert_eq!(
        (stats.accepted, stats.unique_references, stats.duplicates),
        (COMMANDS as u64, COMMANDS as u64, 0)
    );
    let store = herald::store::connect(&db.url).await.unwrap();
    assert_eq!(store.status_counts().await.unwrap().sent, COMMANDS as u64);
    broker.cleanup().await;
}

async fn while_the_broker_is_away_http_intake_goes_on_and_the_relay_catches_up(backend: Backend) {
    const MESSAGES: usize = 20;
    let Some(broker) = TestBroker::connect().await else { return };
    let proxy = BrokerProxy::start(&broker.address()).await;
    let Some(app) = TestApp::spawn_with(backend, Roles::ALL, |c| {
        broker.configure(c);
        c.amqp_url = Some(herald::config::Secret::new(proxy.url()));
    })
    .await
    else {
        return;
    };
    let tap = broker.tap().await;
    let broker_state = || async {
        let ready = app.get_json("/health/ready").await;
        (
            ready["status"].as_str().unwrap_or_default().to_owned(),
            ready["checks"]["broker"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert!(wait_until(DEADLINE, || async { broker_state().await == ("ok".into(), "ok".into()) }).await);

    proxy.down();
    assert!(
        wait_until(DEADLINE, || async { broker_state().await == ("degraded".into(), "unreachable".into()) })
            .await,
        "readiness reports the broker: {:?}",
        broker_state().await
    );
    let mut ids = Vec::new();
    for n in 0..MESSAGES {
        ids.push(app.send_notification("+254712345678", &format!("during the outage {n}")).await);
    }
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    assert_eq!(app.store.outbox_backlog().await.unwrap().0, MESSAGES as u64, "the events wait in the outbox");
    app.wait_for_metric("herald_outbox_waiting", MESSAGES as f64).await;
    assert!(tap.events().is_empty());

    proxy.up();
    let events = tap.wait_for(MESSAGES, DEADLINE).await;
    let announced: std::collections::HashSet<String> =
        events.iter().filter_map(|e| e.body["aggregate_id"].as_str().map(str::to_owned)).collect();
    assert_eq!(announced, ids.iter().cloned().collect(), "every message's event, once the broker is back");
    assert!(wait_until(DEADLINE, || async { app.store.outbox_backlog().await.unwrap().0 == 0 }).await);
    app.wait_for_metric("herald_events_published_total", MESSAGES as f64).await;
    assert!(wait_until(DEADLINE, || async { broker_state().await == ("ok".into(), "ok".into()) }).await);
    app.stop().await;
    broker.cleanup().await;
}
