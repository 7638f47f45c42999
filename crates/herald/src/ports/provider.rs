//! The provider port: one message out, an answer that says what to do next.

use std::time::Duration;

use async_trait::async_trait;
use herald_domain::{Channel, MessageId};

/// One outbound message as a provider sees it.
#[derive(Debug, Clone)]
pub struct OutboundSms<'a> {
    pub message_id: MessageId,
    pub to: &'a str,
    pub from: Option<&'a str>,
    pub body: &'a str,
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
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &str;
    /// The channels this provider delivers; a message on another channel fails
    /// permanently ("no provider configured"). SMS unless a provider says more.
    fn channels(&self) -> &[Channel] {
        &[Channel::Sms]
    }
    /// Sends one text message to a phone number (SMS, or WhatsApp where supported).
    async fn send_sms(&self, sms: &OutboundSms<'_>) -> Result<ProviderReceipt, ProviderError>;
}
