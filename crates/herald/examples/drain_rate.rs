//! Measures how fast the dispatcher drains a backlog through the in-process mock provider
//! at 0 ms latency, with every status change, timeline entry and `sms.sent` outbox event
//! committed. It runs the same `Dispatcher` that `herald serve` runs.
//!
//! ```text
//! cargo run --release --example drain_rate -- sqlite:///tmp/drain.db 20000
//! cargo run --release --example drain_rate -- postgres://postgres@127.0.0.1:5432/drain 20000
//! ```
//! The database should be empty (a fresh file or database); it is migrated first.

#![allow(clippy::print_stderr)]

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use chrono::Utc;
use futures::{stream, StreamExt, TryStreamExt};
use herald::{dispatch::Dispatcher, model::NewMessage, providers::MockProvider};
use herald_domain::{Channel, MessageId};
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: drain_rate <database-url> [messages]")?;
    let count: usize = args.next().map_or(Ok(20_000), |n| n.parse()).context("messages must be a number")?;

    let store = herald::store::connect(&url).await?;
    store.migrate().await?;
    let account = store.ensure_default_account().await?;
    let backlog = store.status_counts().await?;
    anyhow::ensure!(backlog.pending == 0, "the database already holds pending messages; use a fresh one");

    let started = std::time::Instant::now();
    stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                let message = NewMessage {
                    id: MessageId::new(),
                    account_id: account,
                    channel: Channel::Sms,
                    recipient: herald_domain::PhoneNumber::parse("+31633450007").unwrap().into(),
                    sender: Some("MB".into()),
                    body: format!("benchmark message {n}"),
                    content: Default::default(),
                    user_id: None,
                    tags: Default::default(),
                    created_at: Utc::now(),
                    idempotency: None,
                    template: None,
                    hold: None,
                    events: Vec::new(),
                };
                store.insert_message(&message).await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let insert_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "inserted {count} messages in {insert_secs:.2}s ({:.0}/s, one transaction each)",
        count as f64 / insert_secs
    );

    let provider = Arc::new(MockProvider::new(1.0, Duration::ZERO));
    let full_config = herald::config::Config::default();
    let config = full_config.dispatch.clone();
    let metrics = Arc::new(herald::metrics::Metrics::new());
    let dispatcher = Dispatcher::new(store.clone(), provider, &full_config, metrics, Arc::new(Notify::new()));
    let started = std::time::Instant::now();
    dispatcher.drain().await?;
    let drain_secs = started.elapsed().as_secs_f64();
    let counts = store.status_counts().await?;
    anyhow::ensure!(counts.sent as usize == count, "not all sent: {counts:?}");
    eprintln!(
        "{}: drained {count} messages in {drain_secs:.2}s = {:.0} messages/s (batch {}, concurrency {})",
        store.backend(),
        count as f64 / drain_secs,
        config.batch_size,
        config.concurrency,
    );
    store.close().await;
    Ok(())
}
