//! Provider adapters: where a message leaves herald, and how the configured ones are built.

pub mod fcm;
pub mod http;
pub mod mock;
pub mod sms_apis;
pub mod smtp;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
pub use mock::MockProvider;

use crate::{
    config::{Config, ProviderEntry, ProviderKind, Routing},
    ports::Provider,
};

/// The adapter a `[[providers]]` entry (or the single `[provider]`) describes. An SMS API
/// preset asks for delivery receipts at `receipt_url` when given.
pub fn build(entry: &ProviderEntry, receipt_url: Option<String>) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(match entry.kind {
        ProviderKind::Mock => Arc::new(
            MockProvider::new(entry.mock.success_rate, Duration::from_millis(entry.mock.latency_ms))
                .named(entry.name.clone())
                .serving(&entry.channels),
        ),
        ProviderKind::Http => {
            let http = crate::config::HttpProviderConfig { name: entry.name.clone(), ..entry.http.clone() };
            Arc::new(
                http::HttpProvider::with_pool(http, entry.limits.max_concurrency)
                    .with_context(|| format!("could not set up the HTTP provider \"{}\"", entry.name))?
                    .serving(&entry.channels),
            )
        }
        ProviderKind::Smtp => Arc::new(
            smtp::SmtpProvider::new(
                &entry.name,
                &entry.smtp,
                entry.limits.max_concurrency,
                Duration::from_millis(entry.timeout_ms.unwrap_or(10_000)),
            )
            .with_context(|| format!("could not set up the SMTP provider \"{}\"", entry.name))?,
        ),
        ProviderKind::Fcm => Arc::new(
            fcm::FcmProvider::new(&entry.name, &entry.fcm, entry.limits.max_concurrency)
                .with_context(|| format!("could not set up the FCM provider \"{}\"", entry.name))?,
        ),
        ProviderKind::Twilio
        | ProviderKind::Africastalking
        | ProviderKind::Vonage
        | ProviderKind::Infobip => Arc::new(
            sms_apis::SmsApiProvider::new(entry, receipt_url, entry.limits.max_concurrency)
                .with_context(|| format!("could not set up the provider \"{}\"", entry.name))?,
        ),
    })
}

/// The routing to dispatch with and its adapters, `adapters[i]` for `routing.providers[i]`.
/// `given` adapters (tests' scripted providers) replace the configured provider of the
/// same name; with the single `[provider]` section, one given adapter is that provider,
/// whatever its name. The rest are built from the configuration.
pub fn assemble(
    config: &Config,
    given: Vec<Arc<dyn Provider>>,
) -> anyhow::Result<(Routing, Vec<Arc<dyn Provider>>)> {
    let routing = config.routing();
    if routing.legacy {
        if let [provider] = given.as_slice() {
            let entry = ProviderEntry {
                name: provider.name().to_owned(),
                channels: provider.channels().to_vec(),
                ..ProviderEntry::from_legacy(&config.provider, &config.mock_provider)
            };
            return Ok((Routing::single(entry), given));
        }
    }
    if let Some(stray) = given.iter().find(|p| routing.provider(p.name()).is_none()) {
        anyhow::bail!("no [[providers]] entry is named \"{}\" (a provider given to build)", stray.name());
    }
    let adapters = routing
        .providers
        .iter()
        .map(|entry| match given.iter().find(|p| p.name() == entry.name) {
            Some(provider) => Ok(provider.clone()),
            None => build(entry, config.receipt_url(&entry.name)),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((routing, adapters))
}
