//! A provider's rate holds across workers on PostgreSQL: two dispatchers (each with its own
//! guard, as two processes have) share one GCRA state in the database, so the provider
//! sees the rate once, not once per worker. Counts are taken from the provider's side.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald::{app::Roles, config::Config, mock_provider::Knobs};

use crate::helpers::{poll, seed_backlog, Backend, MockProviderServer, TestApp};

const RATE_PER_SEC: f64 = 2.0;
const BURST: u32 = 2;
const SENT: &str = r#"herald_messages_sent_total{channel="sms",provider="mockhttp"}"#;

/// The most calls any one-second window holds.
fn busiest_second(mut calls: Vec<DateTime<Utc>>) -> usize {
    calls.sort_unstable();
    let second = chrono::TimeDelta::seconds(1);
    (0..calls.len())
        .map(|i| calls[i..].iter().take_while(|at| **at < calls[i] + second).count())
        .max()
        .unwrap_or(0)
}

#[crate::harness::test(postgres)]
async fn two_workers_together_keep_to_the_providers_rate_plus_its_burst() {
    const MESSAGES: usize = 16;
    let provider = MockProviderServer::start(Knobs::default()).await;
    let limited = |c: &mut Config| {
        provider.configure(c);
        c.provider.limits.rate_per_sec = Some(RATE_PER_SEC);
        c.provider.limits.burst = BURST;
        // Small claims (a pipeline's share of the one second a call may wait for its slot,
        // a quarter of the lease), so that neither worker takes the whole backlog at once.
        c.dispatch.lease_secs = 4;
        c.dispatch.provider_timeout_ms = 1_000;
        (c.dispatch.batch_size, c.dispatch.pipelines, c.dispatch.concurrency) = (4, 2, 4);
    };
    // The backlog is in place before either worker starts, so both find work at once.
    let Some(api) = TestApp::spawn_with(Backend::Postgres, Roles::API, limited).await else {
        return;
    };
    seed_backlog(&api.store, MESSAGES).await;
    let first = TestApp::spawn_on(&api.database_url, Roles::ALL, limited).await;
    let second = TestApp::spawn_on(&api.database_url, Roles::ALL, limited).await;

    let all_sent = poll(Duration::from_secs(60), || async {
        let counts = api.store.status_counts().await.unwrap();
        (counts.sent == MESSAGES as u64).then_some(())
    })
    .await;
    assert!(all_sent.is_some(), "not all sent: {:?}", api.store.status_counts().await);

    let received = provider.received().await;
    assert_eq!(received.len(), MESSAGES, "each message reached the provider once");
    let busiest = busiest_second(received.iter().map(|r| r.received_at).collect());
    let most = RATE_PER_SEC as usize + BURST as usize;
    assert!(busiest <= most, "{busiest} calls in one second; the rate and burst allow {most}");
    // Both workers sent some, so the limit held across them, not inside one.
    for worker in [&first, &second] {
        let sent = worker.metric(SENT).await.unwrap_or(0.0);
        assert!(sent > 0.0, "each worker took part: {sent} sent by one");
    }
    first.stop().await;
    second.stop().await;
}
