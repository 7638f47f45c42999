//! Measures `POST /campaigns/{id}/send` with many customer ids over real HTTP, then how long
//! the engine (the in-process mock provider at 0 ms) takes to render and send them all.
//!
//! ```text
//! cargo run --release --example campaign_send -- sqlite:///tmp/campaign.db 100000
//! cargo run --release --example campaign_send -- postgres://postgres@127.0.0.1:5432/campaign 100000
//! ```
//! The database should be empty (a fresh file or database); it is migrated first.

#![allow(clippy::print_stderr)]

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use chrono::Utc;
use herald::{
    app::{Application, Roles},
    config::{Config, Secret},
    model::CustomerFields,
    providers::MockProvider,
};

const KEY: &str = "example-key-0123456789";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: campaign_send <database-url> [customers]")?;
    let count: usize =
        args.next().map_or(Ok(100_000), |n| n.parse()).context("customers must be a number")?;

    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: url.clone(),
        bootstrap_api_key: Some(Secret::new(KEY)),
        ..Config::default()
    };
    config.mock_provider.success_rate = 1.0;
    let provider = Arc::new(MockProvider::new(1.0, std::time::Duration::ZERO));
    // The API alone first: the send is measured without a worker competing for the database.
    let api = Application::build_with_provider(config.clone(), Roles::API, provider.clone()).await?;
    let store = api.store();
    let base = format!("http://{}", api.local_addr().context("no address")?);
    let account = store.ensure_default_account().await?;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let customers: Vec<CustomerFields> = chunk
            .iter()
            .map(|n| CustomerFields {
                phone: format!("+2547{n:08}"),
                first_name: Some(format!("Customer{n}")),
                preferred_product: (n % 2 == 0).then(|| "Running Shoes".to_owned()),
                ..Default::default()
            })
            .collect();
        ids.extend(store.insert_customers(account, &customers, Utc::now()).await?);
    }
    eprintln!("inserted {count} customers in {:.2}s", started.elapsed().as_secs_f64());

    let shutdown = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(api.run(shutdown.clone()));
    let client = reqwest::Client::new();
    let campaign: serde_json::Value = client
        .post(format!("{base}/campaigns"))
        .header("X-API-Key", KEY)
        .json(&serde_json::json!({"name": "bench", "channel": "sms",
                                  "base_template": "Hi {first_name}, check out {preferred_product|our range}!"}))
        .send()
        .await?
        .json()
        .await?;
    let body = serde_json::json!({ "customer_ids": ids });
    let started = Instant::now();
    let response = client
        .post(format!("{base}/campaigns/{}/send", campaign["id"]))
        .header("X-API-Key", KEY)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await?;
    let send_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(status == 202, "send answered {status}: {answer}");
    eprintln!(
        "{}: POST /campaigns/{{id}}/send with {count} customer ids answered 202 in {send_secs:.3}s ({answer})",
        store.backend()
    );
    shutdown.cancel();
    serving.await??;

    // Then a worker drains them: render, send, commit, finish the campaign.
    let worker = Application::build_with_provider(config, Roles::WORKER, provider.clone()).await?;
    let store = worker.store();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(worker.run(shutdown.clone()));
    loop {
        let counts = store.status_counts().await?;
        if counts.sent + counts.failed >= count as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let drain_secs = started.elapsed().as_secs_f64();
    let stats = store.campaign_stats(campaign["id"].as_i64().context("no id")?.into()).await?;
    eprintln!(
        "{}: the worker rendered and sent {count} messages in {drain_secs:.2}s = {:.0} messages/s ({stats:?})",
        store.backend(),
        count as f64 / drain_secs
    );
    shutdown.cancel();
    running.await??;
    Ok(())
}
