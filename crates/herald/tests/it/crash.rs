//! Processes that die or are stopped: nothing accepted is lost, nothing stays `sending`,
//! duplicates stay within what was in flight, and workers never send the same message twice.

use std::{sync::Arc, time::Duration};

use herald::{mock_provider::Knobs, ports::Store};

use crate::helpers::{
    assert_database_matches_provider, on_both_backends, poll, seed_backlog, spawn_herald, Backend,
    MockProviderServer, TestDb,
};

on_both_backends!(
    sigterm_during_a_drain_exits_in_time_and_leaves_nothing_sending,
    a_worker_killed_mid_batch_loses_nothing,
);

async fn open(db: &TestDb) -> Arc<dyn Store> {
    let store = herald::store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn wait_for_accepted(provider: &MockProviderServer, at_least: u64) {
    let reached = poll(Duration::from_secs(60), || async {
        (provider.stats().await.accepted >= at_least).then_some(())
    });
    assert!(reached.await.is_some(), "the provider never got {at_least} messages");
}

async fn wait_until_all_sent(store: &Arc<dyn Store>, count: u64) {
    let done = poll(Duration::from_secs(120), || async {
        let counts = store.status_counts().await.unwrap();
        (counts.sent == count).then_some(())
    })
    .await;
    assert!(done.is_some(), "not all sent: {:?}", store.status_counts().await.unwrap());
}

async fn sigterm_during_a_drain_exits_in_time_and_leaves_nothing_sending(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else { return };
    let store = open(&db).await;
    seed_backlog(&store, 1000).await;
    let provider = MockProviderServer::start(Knobs { latency_ms: 100, ..Knobs::default() }).await;
    let mut worker = spawn_herald(
        "worker",
        &db.url,
        &provider.base_url,
        &[
            ("HERALD_DISPATCH__CONCURRENCY", "16"),
            ("HERALD_DISPATCH__BATCH_SIZE", "64"),
            ("HERALD_DISPATCH__SHUTDOWN_GRACE_SECS", "5"),
            ("HERALD_DISPATCH__PROVIDER_TIMEOUT_MS", "2000"),
        ],
    );
    wait_for_accepted(&provider, 50).await;

    assert!(worker.terminate(Duration::from_secs(30)).await, "worker exits cleanly within its grace period");

    let counts = store.status_counts().await.unwrap();
    assert_eq!(counts.sending, 0, "nothing left claimed: {counts:?}");
    assert_eq!(counts.sent + counts.pending, 1000, "{counts:?}");
    assert!(counts.pending > 0, "the drain was interrupted, not finished: {counts:?}");
    let stats = provider.stats().await;
    assert_eq!(stats.accepted, counts.sent, "every accepted send was recorded before exit");
    assert_eq!(stats.duplicates, 0);
}

async fn a_worker_killed_mid_batch_loses_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else { return };
    let store = open(&db).await;
    let ids = seed_backlog(&store, 2000).await;
    let provider = MockProviderServer::start(Knobs { latency_ms: 50, ..Knobs::default() }).await;
    // At most this many can be claimed (in flight) when the worker dies: 2 pipelines x 40.
    let in_flight_bound = 80u64;
    let env = [
        ("HERALD_DISPATCH__CONCURRENCY", "20"),
        ("HERALD_DISPATCH__BATCH_SIZE", "40"),
        ("HERALD_DISPATCH__PIPELINES", "2"),
        ("HERALD_DISPATCH__LEASE_SECS", "2"),
        ("HERALD_DISPATCH__PROVIDER_TIMEOUT_MS", "400"),
        ("HERALD_DISPATCH__POLL_INTERVAL_MS", "100"),
    ];
    let mut first = spawn_herald("worker", &db.url, &provider.base_url, &env);
    wait_for_accepted(&provider, 400).await;

    first.kill_hard();
    let at_kill = store.status_counts().await.unwrap();
    assert!(at_kill.pending > 0, "killed mid-drain: {at_kill:?}");
    let _second = spawn_herald("worker", &db.url, &provider.base_url, &env);
    wait_until_all_sent(&store, 2000).await;

    let stats = provider.stats().await;
    assert_eq!(stats.unique_references, 2000, "every message reached the provider");
    assert!(
        stats.duplicates <= in_flight_bound,
        "duplicates ({}) exceed what was in flight ({in_flight_bound})",
        stats.duplicates
    );
    assert_database_matches_provider(&store, &ids, &provider).await;
}

#[crate::harness::test(postgres)]
async fn two_postgres_workers_never_send_the_same_message() {
    let Some(db) = TestDb::create(Backend::Postgres).await else { return };
    let store = open(&db).await;
    seed_backlog(&store, 2000).await;
    let provider = MockProviderServer::start(Knobs { latency_ms: 5, ..Knobs::default() }).await;
    let env = [("HERALD_DISPATCH__CONCURRENCY", "50"), ("HERALD_DISPATCH__BATCH_SIZE", "100")];
    let _a = spawn_herald("worker", &db.url, &provider.base_url, &env);
    let _b = spawn_herald("worker", &db.url, &provider.base_url, &env);

    wait_until_all_sent(&store, 2000).await;

    let stats = provider.stats().await;
    assert_eq!((stats.accepted, stats.unique_references, stats.duplicates), (2000, 2000, 0));
}

/// An API process and a worker process on one PostgreSQL database: the worker hears of new
/// messages through LISTEN/NOTIFY, long before its (here, one minute) poll.
#[crate::harness::test(postgres)]
async fn a_separate_postgres_worker_is_woken_by_notify_not_by_polling() {
    use herald::app::Roles;

    use crate::helpers::TestApp;
    let Some(api) = TestApp::spawn_with(Backend::Postgres, Roles::API, |_| {}).await else { return };
    let slow_poll = |c: &mut herald::config::Config| c.dispatch.poll_interval_ms = 60_000;
    let worker = TestApp::spawn_on(&api.database_url, Roles::WORKER, slow_poll).await;
    // The first message may be found by the worker's first pass; the later ones arrive
    // while it waits, so only a NOTIFY can make them go out within the test's deadline.
    for n in 0..3 {
        let id = api.send_notification("+254712345678", &format!("wake up {n}")).await;
        api.wait_for_status(&id, "sent").await;
    }
    assert_eq!(worker.mock.deliveries().len(), 3, "the worker process sent them");
}

#[crate::harness::test]
async fn a_stop_is_not_held_up_by_a_request_that_never_finishes() {
    use tokio::io::AsyncWriteExt;
    let Some(app) = crate::helpers::TestApp::spawn_with(Backend::Sqlite, herald::app::Roles::ALL, |c| {
        c.dispatch.shutdown_grace_secs = 1;
    })
    .await
    else {
        return;
    };
    // A client that announces a body and never sends it.
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/notifications/send HTTP/1.1\r\nHost: herald\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"to\":",
        crate::helpers::API_KEY
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // Another request's answer means the server is serving connections (the stalled one too).
    assert!(app.get("/health").await.status().is_success());
    let stopped = tokio::time::timeout(Duration::from_secs(60), app.stop()).await;
    assert!(stopped.is_ok(), "the stop finishes after its grace period despite the stalled request");
    drop(stalled);
}
