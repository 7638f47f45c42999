//! A generic HTTP provider: one JSON `POST` per message, mapped by configuration. It sends
//! the text body to the recipient (SMS by default; `channels` of its `[[providers]]` entry
//! says which channels it serves).
//!
//! The request body is a JSON object whose field names are configurable
//! (`to`, `from`, `body`, and `reference`, which carries herald's message id so the
//! provider can deduplicate). A push notification or an email also carries `channel` and
//! what it has of `title` (push) or `subject`, `html`, `reply_to`, `unsubscribe_url` (email)
//! and `data` (push), under those names: this is the webhook for a self-hosted push gateway.
//! Answers are classified the way retries need them:
//! 2xx accepted; 429, 408 and 5xx retryable (honouring `Retry-After`); other 4xx permanent;
//! connection errors, resets and unreadable answers retryable.

use std::time::Duration;

use async_trait::async_trait;
use herald_domain::Channel;
use reqwest::{header::RETRY_AFTER, StatusCode};
use serde_json::{Map, Value};

use crate::{
    config::HttpProviderConfig,
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
};

#[derive(Debug)]
pub struct HttpProvider {
    config: HttpProviderConfig,
    channels: Vec<Channel>,
    client: reqwest::Client,
}

/// Longest provider answer quoted in an error.
const MAX_QUOTED_BODY: usize = 200;

impl HttpProvider {
    /// With an idle pool for the default `max_concurrency`.
    pub fn new(config: HttpProviderConfig) -> Result<Self, reqwest::Error> {
        Self::with_pool(config, crate::config::ProviderLimits::default().max_concurrency)
    }

    /// Keeps up to `max_idle` connections open between calls: the provider's concurrency,
    /// so a steady drain reuses as many connections as it has calls in flight. A smaller
    /// pool closes the surplus each time a burst of calls ends and opens it again for the
    /// next (5,000-9,000 connections per 20,000 sends with 256 idle for 1,024 in flight).
    pub fn with_pool(config: HttpProviderConfig, max_idle: usize) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(max_idle)
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { config, channels: vec![Channel::Sms], client })
    }

    /// The channels it serves (SMS unless set).
    pub fn serving(mut self, channels: &[Channel]) -> Self {
        self.channels = channels.to_vec();
        self
    }

    fn request_body(&self, message: &Outbound<'_>) -> Value {
        let fields = &self.config;
        let mut body = Map::new();
        body.insert(fields.to_field.clone(), Value::from(message.to.as_str()));
        if let Some(from) = message.from {
            body.insert(fields.from_field.clone(), Value::from(from));
        }
        body.insert(fields.body_field.clone(), Value::from(message.text));
        if !fields.reference_field.is_empty() {
            body.insert(fields.reference_field.clone(), Value::from(message.message_id.to_string()));
        }
        // Email and push carry more than a text: the channel and what it has, by fixed names.
        if message.channel == Channel::Push || message.channel == Channel::Email {
            body.insert("channel".into(), Value::from(message.channel.as_str()));
            let content = message.content;
            let title = if message.channel == Channel::Push { "title" } else { "subject" };
            let parts = [(title, &content.subject), ("html", &content.html), ("reply_to", &content.reply_to)];
            for (name, value) in parts {
                if let Some(value) = value {
                    body.insert(name.into(), Value::from(value.as_str()));
                }
            }
            if let Some(url) = &content.unsubscribe_url {
                body.insert("unsubscribe_url".into(), Value::from(url.as_str()));
            }
            if !content.data.is_empty() {
                body.insert("data".into(), serde_json::json!(content.data));
            }
        }
        Value::Object(body)
    }
}

/// A provider's answer, read whole: what classifying it needs.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    /// 429, 408 and 5xx are worth retrying, whatever the provider.
    pub(crate) fn is_retryable_status(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::REQUEST_TIMEOUT
            || self.status.is_server_error()
    }

    /// A refusal with `reason`, retryable (after `Retry-After`) or permanent by the status.
    pub(crate) fn refusal(&self, reason: String) -> ProviderError {
        if self.is_retryable_status() {
            ProviderError::Retryable { reason, retry_after: self.retry_after }
        } else {
            ProviderError::Permanent { reason }
        }
    }
}

/// Sends `request` and reads the answer. What breaks on the way is retryable: the message
/// may or may not have gone (herald's id travels as the client reference where the
/// provider takes one), and an answer that breaks off is a lost answer.
pub(crate) async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|e| ProviderError::Retryable {
        reason: format!(
            "request failed: {}",
            if e.is_connect() { "could not connect" } else { "connection error" }
        ),
        retry_after: None,
    })?;
    let status = response.status();
    let retry_after =
        response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let body = response.text().await.map_err(|_| ProviderError::Retryable {
        reason: format!("HTTP {}: the answer was cut off", status.as_u16()),
        retry_after: None,
    })?;
    Ok(Answer { status, retry_after, body })
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// The provider's answer for an error: shortened, with the phone numbers it quotes masked.
fn quote(text: &str) -> String {
    herald_domain::mask::mask_numbers(&text.chars().take(MAX_QUOTED_BODY).collect::<String>())
}

#[async_trait]
impl Provider for HttpProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    async fn send(&self, message: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        let mut request = self.client.post(&self.config.url).json(&self.request_body(message));
        if let (Some(header), Some(value)) = (&self.config.auth_header, &self.config.auth_value) {
            request = request.header(header.as_str(), value.expose());
        }
        let answer = exchange(request).await?;
        if answer.status.is_success() {
            let provider_message_id = self.config.message_id_pointer.as_deref().and_then(|pointer| {
                let json: Value = serde_json::from_str(&answer.body).ok()?;
                match json.pointer(pointer)? {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            });
            return Ok(ProviderReceipt { provider_message_id });
        }
        Err(answer.refusal(format!("HTTP {}: {}", answer.status.as_u16(), quote(&answer.body))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a past date means now"
        );
        let future = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let parsed = parse_retry_after(&future).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120), "{parsed:?}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
