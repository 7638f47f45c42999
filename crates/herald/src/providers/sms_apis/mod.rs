//! The SMS API presets: Twilio, Africa's Talking, Vonage and Infobip, each configured by
//! kind and credentials. One file per provider holds everything herald knows of its wire
//! format: how a send is asked for (body encoding, authentication, sender, herald's id as
//! the client reference where the API has one, where to send receipts), how its answer is
//! read and classified by the provider's documented codes, and how its delivery receipts
//! are authenticated and read. This file holds what they share: the HTTP call, and the
//! receipt request as the webhook hands it over.

mod africastalking;
mod infobip;
mod twilio;
mod vonage;

use std::time::Duration;

use async_trait::async_trait;
use subtle::ConstantTimeEq;

pub(crate) use super::http::Answer;
use crate::{
    config::{ProviderEntry, ProviderKind, Secret},
    model::DeliveryReceipt,
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
};

/// Longest provider text quoted in an error.
const MAX_QUOTED: usize = 200;

#[derive(Debug)]
enum Api {
    Twilio(crate::config::TwilioConfig),
    AfricasTalking(crate::config::AfricasTalkingConfig),
    Vonage(crate::config::VonageConfig),
    Infobip(crate::config::InfobipConfig),
}

/// A provider of one of the preset kinds.
#[derive(Debug)]
pub struct SmsApiProvider {
    name: String,
    api: Api,
    client: reqwest::Client,
    /// Where this provider is asked to send delivery receipts (with the webhook token
    /// where its receipts are not signed); `None` when herald has no `public_url`.
    receipt_url: Option<String>,
}

impl SmsApiProvider {
    /// The provider `entry` describes (one of the preset kinds), asking for receipts at
    /// `receipt_url` (`<public_url>/webhooks/providers/<name>/status`) when given.
    pub fn new(entry: &ProviderEntry, receipt_url: Option<String>, max_idle: usize) -> anyhow::Result<Self> {
        let api = match entry.kind {
            ProviderKind::Twilio => Api::Twilio(entry.twilio.clone()),
            ProviderKind::Africastalking => Api::AfricasTalking(entry.africastalking.clone()),
            ProviderKind::Vonage => Api::Vonage(entry.vonage.clone()),
            ProviderKind::Infobip => Api::Infobip(entry.infobip.clone()),
            other => anyhow::bail!("\"{}\" is not an SMS API preset", other.as_str()),
        };
        let token = match &api {
            Api::Vonage(c) if c.signature_secret.is_none() => c.webhook_token.as_ref(),
            Api::Infobip(c) => c.webhook_token.as_ref(),
            Api::AfricasTalking(c) => c.webhook_token.as_ref(),
            _ => None,
        };
        let receipt_url = receipt_url.map(|url| match token {
            Some(token) => format!("{url}?token={}", urlencode(token.expose())),
            None => url,
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(max_idle)
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { name: entry.name.clone(), api, client, receipt_url })
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[async_trait]
impl Provider for SmsApiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, message: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        let callback = self.receipt_url.as_deref();
        let request = match &self.api {
            Api::Twilio(config) => twilio::request(&self.client, config, message, callback),
            Api::AfricasTalking(config) => africastalking::request(&self.client, config, message),
            Api::Vonage(config) => vonage::request(&self.client, config, message, callback),
            Api::Infobip(config) => infobip::request(&self.client, config, message, callback),
        };
        let answer = super::http::exchange(request).await?;
        let provider_message_id = match &self.api {
            Api::Twilio(_) => twilio::read_answer(&answer),
            Api::AfricasTalking(_) => africastalking::read_answer(&answer),
            Api::Vonage(_) => vonage::read_answer(&answer),
            Api::Infobip(_) => infobip::read_answer(&answer),
        }?;
        Ok(ProviderReceipt { provider_message_id })
    }
}

impl Answer {
    /// The answer's body, shortened for an error.
    fn quoted(&self) -> String {
        quote(&self.body)
    }

    /// An answer that is not what the API documents for success.
    fn unreadable(&self, provider: &str) -> ProviderError {
        self.refusal(format!(
            "{provider}: unreadable answer (HTTP {}): {}",
            self.status.as_u16(),
            self.quoted()
        ))
    }
}

/// A provider's text for an error: shortened, and with the phone numbers it quotes masked
/// (it goes to logs as well as `last_error`).
fn quote(text: &str) -> String {
    herald_domain::mask::mask_numbers(&text.chars().take(MAX_QUOTED).collect::<String>())
}

/// The number as these APIs without a leading `+` take it (Vonage, Infobip).
fn digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

/// A delivery receipt as it reached `POST /webhooks/providers/{name}/status`.
#[derive(Debug)]
pub struct ReceiptRequest<'a> {
    /// The URL the provider called, as it knows it: `public_url` + path + query. Twilio
    /// signs it.
    pub url: &'a str,
    /// The query string's parameters (the webhook token travels there).
    pub query: &'a [(String, String)],
    pub headers: &'a axum::http::HeaderMap,
    pub body: &'a [u8],
}

/// Why a receipt was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Not from the provider: a bad or missing signature or token (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// From the provider, but not a receipt herald can read (400).
    #[error("{0}")]
    Malformed(String),
    /// The provider takes no receipts, or is not configured (404).
    #[error("{0}")]
    NotAccepted(String),
}

/// The receipts in a request to the provider `entry`'s webhook, authenticated the way the
/// provider signs them (or by the webhook token in the URL where it does not).
pub fn read_receipts(
    entry: &ProviderEntry,
    request: &ReceiptRequest<'_>,
) -> Result<Vec<DeliveryReceipt>, ReceiptError> {
    match entry.kind {
        ProviderKind::Twilio => twilio::receipts(&entry.twilio, request),
        ProviderKind::Africastalking => {
            check_token(entry.africastalking.webhook_token.as_ref(), request)?;
            africastalking::receipts(request)
        }
        ProviderKind::Vonage => vonage::receipts(&entry.vonage, request),
        ProviderKind::Infobip => {
            check_token(entry.infobip.webhook_token.as_ref(), request)?;
            infobip::receipts(request)
        }
        _ => Err(ReceiptError::NotAccepted(format!(
            "provider \"{}\" is not an SMS API preset and takes no delivery receipts",
            entry.name
        ))),
    }
}

/// The `token` query parameter against the configured webhook token, in constant time.
fn check_token(expected: Option<&Secret>, request: &ReceiptRequest<'_>) -> Result<(), ReceiptError> {
    let Some(expected) = expected else {
        return Err(ReceiptError::Unauthenticated(
            "this provider's receipts need a webhook_token in herald's configuration".into(),
        ));
    };
    let given = request.query.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str()).unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ReceiptError::Unauthenticated("missing or wrong webhook token".into()))
    }
}

/// Form parameters of a receipt body (`application/x-www-form-urlencoded`), in order.
fn form_params(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn required<'p>(params: &'p [(String, String)], name: &str) -> Result<&'p str, ReceiptError> {
    param(params, name).ok_or_else(|| ReceiptError::Malformed(format!("the receipt has no {name}")))
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
