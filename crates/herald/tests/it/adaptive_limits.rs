//! A provider failing part of its calls keeps delivering the rest (adaptive concurrency, the
//! breaker left closed); one failing every call opens the breaker within its window and
//! closes it on recovery; the HTTP provider keeps its connections. Counts and states only,
//! never times.

use std::time::Duration;

use herald::mock_provider::Knobs;

use crate::helpers::{on_both_backends, poll, seed_backlog, Backend, MockProviderServer, TestApp};

on_both_backends!(
    a_provider_failing_half_its_calls_keeps_the_breaker_closed_and_every_message_ends,
    a_provider_failing_every_call_opens_the_breaker_within_its_window_and_recovery_closes_it,
    a_steady_drain_opens_no_more_connections_than_calls_in_flight,
);

const BREAKER_STATE: &str = r#"herald_breaker_state{provider="mockhttp"}"#;
const BREAKER_OPENED: &str = r#"herald_breaker_opened_total{provider="mockhttp"}"#;
const CONCURRENCY_LIMIT: &str = r#"herald_provider_concurrency_limit{provider="mockhttp"}"#;

/// Waits until every message is `sent` or `failed`; returns (sent, failed).
async fn wait_all_ended(app: &TestApp, count: u64) -> (u64, u64) {
    let counts = poll(Duration::from_secs(60), || async {
        let counts = app.store.status_counts().await.unwrap();
        (counts.sent + counts.failed == count).then_some(counts)
    })
    .await;
    let Some(counts) = counts else {
        panic!("not all ended: {:?}", app.store.status_counts().await);
    };
    (counts.sent, counts.failed)
}

async fn a_provider_failing_half_its_calls_keeps_the_breaker_closed_and_every_message_ends(backend: Backend) {
    const MESSAGES: u64 = 300;
    const MAX_CONCURRENCY: usize = 32;
    // Even: every run of calls fails half of them, so the counts below do not depend on luck.
    let provider =
        MockProviderServer::start(Knobs { failure_rate: 0.5, even: true, ..Knobs::default() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.provider.limits.max_concurrency = MAX_CONCURRENCY;
        // The default breaker settings: the ones that must tell partial failure from down.
    })
    .await
    else {
        return;
    };
    seed_backlog(&app.store, MESSAGES as usize).await;
    let (sent, failed) = wait_all_ended(&app, MESSAGES).await;

    assert_eq!(app.metric(BREAKER_OPENED).await.unwrap_or(0.0), 0.0, "the breaker never opened");
    assert_eq!(app.metric(BREAKER_STATE).await, Some(0.0));
    let stats = provider.stats().await;
    assert_eq!((stats.accepted, stats.duplicates), (sent, 0), "every sent message reached it once");
    // Each message ended after its own attempts: sent on one, or failed after 1 + 3.
    assert!(stats.calls >= sent + 4 * failed, "{stats:?}, {failed} failed");
    assert!(sent > failed, "most messages got through: {sent} sent, {failed} failed");
    if failed > 0 {
        let dead = r#"herald_messages_dead_lettered_total{provider="mockhttp"}"#;
        app.wait_for_metric(dead, failed as f64).await;
    }
    let limit = app.metric(CONCURRENCY_LIMIT).await.expect("the limit is exported");
    assert!(limit < MAX_CONCURRENCY as f64, "it slowed down instead of stopping: {limit}");
    assert!(limit >= (MAX_CONCURRENCY / 4) as f64, "never below its floor: {limit}");
}

async fn a_provider_failing_every_call_opens_the_breaker_within_its_window_and_recovery_closes_it(
    backend: Backend,
) {
    const MESSAGES: u64 = 30;
    let provider = MockProviderServer::start(Knobs { failure_rate: 1.0, ..Knobs::default() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        // Few calls in flight, so the calls started before the breaker opened stay few.
        c.provider.limits.max_concurrency = 4;
        c.provider.limits.breaker.open_secs = 1;
        c.dispatch.max_retries = 1_000; // this test is about waiting, not giving up
    })
    .await
    else {
        return;
    };
    let window = herald::config::BreakerSettings::default().window as u64;
    seed_backlog(&app.store, MESSAGES as usize).await;
    app.wait_for_metric(BREAKER_STATE, 2.0).await;
    let calls = provider.stats().await.calls;
    // min_calls failures open it, plus what was in flight, plus a half-open trial or two.
    assert!(calls <= window, "opened within its window of {window} calls: {calls} calls");

    provider.set_knobs(&Knobs::default()).await;
    let (sent, failed) = wait_all_ended(&app, MESSAGES).await;
    assert_eq!((sent, failed), (MESSAGES, 0), "an open breaker makes messages wait, never fail");
    app.wait_for_metric(BREAKER_STATE, 0.0).await;
    assert!(app.metric(BREAKER_OPENED).await.unwrap_or(0.0) >= 1.0);
    assert_eq!(provider.stats().await.accepted, MESSAGES);
}

async fn a_steady_drain_opens_no_more_connections_than_calls_in_flight(backend: Backend) {
    const MESSAGES: u64 = 400;
    const MAX_CONCURRENCY: usize = 8;
    let provider = MockProviderServer::start(Knobs::default()).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.provider.limits.max_concurrency = MAX_CONCURRENCY;
    })
    .await
    else {
        return;
    };
    seed_backlog(&app.store, MESSAGES as usize).await;
    assert_eq!(wait_all_ended(&app, MESSAGES).await, (MESSAGES, 0));
    let stats = provider.stats().await;
    assert_eq!(stats.accepted, MESSAGES);
    // Twice the calls in flight at most: the HTTP client may start a connection while the
    // one a call just finished with is on its way back to the pool (it keeps both). Without
    // keep-alive each send would open its own.
    assert!(
        stats.connections <= 2 * MAX_CONCURRENCY as u64,
        "{} connections for {MESSAGES} sends with {MAX_CONCURRENCY} in flight",
        stats.connections
    );
}
