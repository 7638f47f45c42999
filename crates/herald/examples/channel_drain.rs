//! Measures how fast the dispatcher drains a backlog of emails through the SMTP provider,
//! of push notifications through the FCM provider, or of SMS through an SMS API preset
//! (Twilio, Africa's Talking, Vonage, Infobip) with every status change, timeline entry and
//! outbox event committed: the same `Dispatcher` that `herald serve` runs.
//!
//! ```text
//! # email, to a local SMTP server (tests/support/smtp_server.py, aiosmtpd):
//! python tests/support/smtp_server.py --port 2525 --dir /tmp/mail &
//! cargo run --release --example channel_drain -- sqlite:///tmp/email.db 5000 smtp 127.0.0.1:2525 16
//! # push, to herald mock-provider answering as FCM:
//! cargo run --release -- mock-provider --listen 127.0.0.1:9090 &
//! cargo run --release --example channel_drain -- sqlite:///tmp/push.db 5000 fcm http://127.0.0.1:9090 64
//! # SMS, to herald mock-provider speaking a preset's wire format:
//! cargo run --release -- mock-provider --listen 127.0.0.1:9091 --format twilio &
//! cargo run --release --example channel_drain -- sqlite:///tmp/sms.db 20000 twilio http://127.0.0.1:9091 64
//! ```
//! Arguments: database URL (empty), messages, `smtp`, `fcm`, `twilio`, `africastalking`,
//! `vonage` or `infobip`, the server, and the provider's `max_concurrency` (the SMTP pool
//! size too). The database is migrated first.

#![allow(clippy::print_stderr)]

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use futures::{stream, StreamExt, TryStreamExt};
use herald::{
    config::{
        AfricasTalkingConfig, Config, FcmProviderConfig, InfobipConfig, ProviderEntry, ProviderKind, Secret,
        SmtpProviderConfig, SmtpTls, TwilioConfig, VonageConfig,
    },
    dispatch::Dispatcher,
    model::{NewMessage, RichContent},
};
use herald_domain::{Channel, MessageId, Recipient};
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let usage = "usage: channel_drain <database-url> <messages> smtp|fcm|twilio|africastalking|vonage|infobip <server> <max-concurrency>";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, count, kind, server, concurrency] = args.as_slice() else { anyhow::bail!(usage) };
    let count: usize = count.parse().context(usage)?;
    let concurrency: usize = concurrency.parse().context(usage)?;

    let mut entry = ProviderEntry { name: kind.clone(), ..ProviderEntry::default() };
    entry.limits.max_concurrency = concurrency;
    let channel = match kind.as_str() {
        "smtp" => {
            let (host, port) = server.rsplit_once(':').context("smtp server: host:port")?;
            entry.kind = ProviderKind::Smtp;
            entry.smtp = SmtpProviderConfig {
                host: host.to_owned(),
                port: Some(port.parse()?),
                tls: SmtpTls::None,
                from: "Herald <bench@herald.example>".into(),
                pool_size: Some(u32::try_from(concurrency)?),
                ..SmtpProviderConfig::default()
            };
            Channel::Email
        }
        "fcm" => {
            entry.kind = ProviderKind::Fcm;
            entry.fcm = FcmProviderConfig {
                service_account_file: concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/support/fcm-service-account.json"
                )
                .into(),
                endpoint: server.clone(),
                token_uri: Some(format!("{server}/token")),
            };
            Channel::Push
        }
        "twilio" => {
            entry.kind = ProviderKind::Twilio;
            entry.twilio = TwilioConfig {
                account_sid: "ACbench".into(),
                auth_token: Some(Secret::new("bench-token")),
                base_url: Some(server.clone()),
                ..TwilioConfig::default()
            };
            Channel::Sms
        }
        "africastalking" => {
            entry.kind = ProviderKind::Africastalking;
            entry.africastalking = AfricasTalkingConfig {
                username: "sandbox".into(),
                api_key: Some(Secret::new("bench-key")),
                base_url: Some(server.clone()),
                webhook_token: None,
            };
            Channel::Sms
        }
        "vonage" => {
            entry.kind = ProviderKind::Vonage;
            entry.vonage = VonageConfig {
                api_key: "bench".into(),
                api_secret: Some(Secret::new("bench-secret")),
                base_url: Some(server.clone()),
                ..VonageConfig::default()
            };
            Channel::Sms
        }
        "infobip" => {
            entry.kind = ProviderKind::Infobip;
            entry.infobip = InfobipConfig {
                api_key: Some(Secret::new("bench-key")),
                base_url: server.clone(),
                webhook_token: None,
            };
            Channel::Sms
        }
        _ => anyhow::bail!(usage),
    };
    entry.channels = vec![channel];
    // Receipts asked for, as in production: the callback URL travels with every SMS.
    let provider = herald::providers::build(
        &entry,
        Some("https://herald.example.com/webhooks/providers/bench/status".into()),
    )?;

    let store = herald::store::connect(url).await?;
    store.migrate().await?;
    let account = store.ensure_default_account().await?;
    anyhow::ensure!(store.status_counts().await?.pending == 0, "the database already holds pending messages");
    let (recipient, content) = match channel {
        Channel::Email => (
            Recipient::parse(channel, "ada@example.com")?,
            RichContent {
                subject: Some("Your receipt".into()),
                html: Some("<p>Thank you for your <b>payment</b>.</p>".into()),
                ..RichContent::default()
            },
        ),
        Channel::Sms => (Recipient::parse(channel, "+254712345678")?, RichContent::default()),
        _ => (
            Recipient::parse(channel, "bench-device-token")?,
            RichContent {
                subject: Some("Order shipped".into()),
                data: [("order_id".to_owned(), "1042".to_owned())].into(),
                ..RichContent::default()
            },
        ),
    };
    stream::iter(0..count)
        .map(|n| {
            let (store, recipient, content) = (store.clone(), recipient.clone(), content.clone());
            async move {
                let message = NewMessage {
                    id: MessageId::new(),
                    account_id: account,
                    channel,
                    recipient,
                    sender: (channel == Channel::Sms).then(|| "HERALD".to_owned()),
                    body: format!("benchmark message {n}"),
                    content,
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

    let mut config = Config::default();
    config.provider.limits = entry.limits.clone();
    let metrics = Arc::new(herald::metrics::Metrics::new());
    let dispatcher = Dispatcher::new(store.clone(), provider, &config, metrics, Arc::new(Notify::new()));
    let started = std::time::Instant::now();
    dispatcher.drain().await?;
    let secs = started.elapsed().as_secs_f64();
    let counts = store.status_counts().await?;
    anyhow::ensure!(counts.sent as usize == count, "not all sent: {counts:?}");
    eprintln!(
        "{} {channel}: drained {count} messages through {kind} in {secs:.2}s = {:.0} messages/s (max_concurrency {concurrency})",
        store.backend(),
        count as f64 / secs,
    );
    store.close().await;
    Ok(())
}
