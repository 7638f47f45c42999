//! Builders for the events herald publishes (the outbox envelope and its payloads).

use chrono::{DateTime, Utc};
use herald_domain::{Channel, EventId};
use serde_json::json;

use crate::model::{ClaimedMessage, OutboxEvent};

/// The provider accepted a message: `sms.sent` for an SMS (the SMS brief's `SmsSent`),
/// `notification.sent` for any other channel (a WhatsApp campaign message).
pub fn message_sent(
    message: &ClaimedMessage,
    provider: &str,
    provider_message_id: Option<&str>,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: match message.channel {
            Channel::Sms => "sms.sent",
            _ => "notification.sent",
        }
        .into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "message_id": message.id,
            "channel": message.channel,
            "phone_number": message.recipient.as_str(),
            "sender": message.sender,
            "provider": provider,
            "provider_message_id": provider_message_id,
            "attempt": message.retry_count + 1,
            "sent_at": at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
        }),
        metadata: metadata(message),
        timestamp: at,
    }
}

/// `notification.failed`: a message ended `failed` (permanent error or out of retries).
pub fn notification_failed(
    message: &ClaimedMessage,
    provider: &str,
    error: &str,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: "notification.failed".into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "notification_id": message.id,
            "channel": message.channel,
            "provider": provider,
            "error": error,
            "attempts": message.retry_count + 1,
            "failed_at": at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
        }),
        metadata: metadata(message),
        timestamp: at,
    }
}

fn metadata(message: &ClaimedMessage) -> serde_json::Value {
    json!({ "account_id": message.account_id, "source": "herald", "version": 1 })
}
