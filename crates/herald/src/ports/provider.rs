//! The provider port: one message out, on any channel, and an answer that says what to do
//! next.

use std::time::Duration;

use async_trait::async_trait;
use herald_domain::{Channel, MessageId, Recipient};

use crate::model::RichContent;

/// One outbound message as a provider sees it, whatever its channel: an SMS provider reads
/// the phone number and the text, an email provider also the subject and HTML body.
#[derive(Debug, Clone)]
pub struct Outbound<'a> {
    /// herald's id, for the provider to deduplicate on.
    pub message_id: MessageId,
    pub channel: Channel,
    pub to: &'a Recipient,
    pub from: Option<&'a str>,
    /// The text body (the whole message for SMS and WhatsApp, the body of a push).
    pub text: &'a str,
    /// Subject (or push title), HTML alternative, Reply-To, unsubscribe URL, push data.
    pub content: &'a RichContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReceipt {
    pub provider_message_id: Option<String>,
}

/// A provider's answer when it did not accept the message, saying what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth trying again (timeouts, connection errors, 429, 5xx).
    #[error("retryable: {reason}")]
    Retryable { reason: String, retry_after: Option<Duration> },
    /// Will never succeed as is (invalid number, rejected content, other 4xx).
    #[error("permanent: {reason}")]
    Permanent { reason: String },
    /// Permanent, and about the recipient itself: it can no longer be reached at all (a
    /// push token FCM no longer knows). The `notification.failed` event says so, so the
    /// caller can drop the recipient.
    #[error("recipient invalid: {reason}")]
    RecipientInvalid { reason: String },
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name in routes, metrics, logs and `provider` fields.
    fn name(&self) -> &str;
    /// The channels this provider delivers. SMS unless a provider says more.
    fn channels(&self) -> &[Channel] {
        &[Channel::Sms]
    }
    /// Sends one message.
    async fn send(&self, message: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError>;
}
