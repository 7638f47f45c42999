//! The events herald publishes: builders for the outbox envelope and its payloads, and
//! the feed that reads them back. Payloads name the recipient `to`, whatever the channel
//! (phone number, email address or push token); `sms.sent` also keeps `phone_number`,
//! which its consumers already read.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, Channel, EventId};
use serde_json::json;

use crate::{
    model::{
        ClaimedMessage, DeliveryOutcome, DeliveryReceipt, FeedCursor, Message, NewMessage, OutboxEvent,
        StoredEvent,
    },
    ports::{Store, StoreResult},
};

/// The outbox as a feed (`GET /api/v1/events`).
#[derive(Clone)]
pub struct EventFeed {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed").finish_non_exhaustive()
    }
}

impl EventFeed {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The account's events after `after`, in commit-safe feed order.
    pub async fn list(
        &self,
        account: AccountId,
        after: FeedCursor,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        self.store.list_events(account, after, limit).await
    }
}

/// The provider accepted a message: the notifications brief's `notification.sent` on every
/// channel but SMS, whose event is the SMS brief's `sms.sent`; an SMS to a user (with a
/// `user_id`: a send by template or one naming the user) publishes both, so that the
/// brief's consumers see every notification of a user and the SMS processor's stream (and
/// its throughput) stays as it was.
pub fn message_sent(
    message: &ClaimedMessage,
    provider: &str,
    provider_message_id: Option<&str>,
    at: DateTime<Utc>,
) -> Vec<OutboxEvent> {
    let payload = sent_payload(message, provider, provider_message_id, at);
    let event = |event_type: &str, mut payload: serde_json::Value| {
        payload["event_type"] = json!(event_type);
        OutboxEvent {
            event_id: EventId::new(),
            event_type: event_type.into(),
            aggregate_id: message.id.to_string(),
            user_id: message.user_id.clone(),
            payload,
            metadata: metadata(message),
            timestamp: at,
        }
    };
    if message.channel != Channel::Sms {
        return vec![event("notification.sent", payload)];
    }
    let mut sms = payload.clone();
    sms["phone_number"] = json!(message.recipient.as_str());
    let mut events = vec![event("sms.sent", sms)];
    if message.user_id.is_some() {
        events.push(event("notification.sent", payload));
    }
    events
}

fn sent_payload(
    message: &ClaimedMessage,
    provider: &str,
    provider_message_id: Option<&str>,
    at: DateTime<Utc>,
) -> serde_json::Value {
    json!({
            "notification_id": message.id,
            "message_id": message.id,
            "user_id": message.user_id,
            "timestamp": at,
            "channel": message.channel,
            "to": message.recipient.as_str(),
            "sender": message.sender,
            "provider": provider,
            "provider_message_id": provider_message_id,
            "attempt": message.retry_count + 1,
            "sent_at": at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
    })
}

/// `notification.failed`: a message ended `failed` (permanent error or out of retries).
/// `recipient_invalid`: the provider said the recipient can no longer be reached (a dead
/// push token), which the payload carries so the caller can drop it.
pub fn notification_failed(
    message: &ClaimedMessage,
    provider: &str,
    error: &str,
    at: DateTime<Utc>,
    recipient_invalid: bool,
) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: "notification.failed".into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "notification_id": message.id,
            "channel": message.channel,
            "to": message.recipient.as_str(),
            "provider": provider,
            "error": error,
            "recipient_invalid": recipient_invalid,
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

/// `notification.delivered` or `notification.undelivered`: the provider's delivery receipt
/// said what became of a sent message.
pub fn delivery_receipt(message: &Message, provider: &str, receipt: &DeliveryReceipt) -> OutboxEvent {
    let at = Utc::now();
    let (event_type, error_code, error) = match &receipt.outcome {
        Some(DeliveryOutcome::Undelivered { code, reason }) => {
            ("notification.undelivered", code.as_deref(), Some(reason.as_str()))
        }
        _ => ("notification.delivered", None, None),
    };
    OutboxEvent {
        event_id: EventId::new(),
        event_type: event_type.into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "notification_id": message.id,
            "channel": message.channel,
            "to": message.recipient.as_str(),
            "provider": provider,
            "provider_message_id": message.provider_message_id,
            "provider_status": receipt.provider_status,
            "error_code": error_code,
            "error": error,
            "reported_at": at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
        }),
        metadata: account_metadata(message.account_id),
        timestamp: at,
    }
}

/// `notification.suppressed`: the recipient's preferences kept a message from being sent;
/// it is stored `suppressed` with the reason, never silently dropped.
pub fn notification_suppressed(message: &NewMessage, reason: &str) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: "notification.suppressed".into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "event_type": "notification.suppressed",
            "notification_id": message.id,
            "user_id": message.user_id,
            "channel": message.channel,
            "template_id": message.template.map(|t| t.id),
            "reason": reason,
            "timestamp": message.created_at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
        }),
        metadata: account_metadata(message.account_id),
        timestamp: message.created_at,
    }
}

/// `notification.cancelled`, `notification.delivered` or `notification.read`: the client
/// changed a notification's status (`PUT /api/v1/notifications/{id}/status`).
pub fn status_changed_by_client(message: &Message, reason: Option<&str>, at: DateTime<Utc>) -> OutboxEvent {
    let event_type = format!("notification.{}", message.status);
    OutboxEvent {
        event_id: EventId::new(),
        event_type: event_type.clone(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({
            "event_type": event_type,
            "notification_id": message.id,
            "user_id": message.user_id,
            "channel": message.channel,
            "status": message.status,
            "source": "client",
            "reason": reason,
            "timestamp": at,
            "reference": message.tags.reference,
            "idempotency_key": message.tags.idempotency_key,
            "client_metadata": message.tags.metadata,
        }),
        metadata: account_metadata(message.account_id),
        timestamp: at,
    }
}

fn metadata(message: &ClaimedMessage) -> serde_json::Value {
    account_metadata(message.account_id)
}

fn account_metadata(account: AccountId) -> serde_json::Value {
    json!({ "account_id": account, "source": "herald", "version": 1 })
}

#[cfg(test)]
mod tests {
    use herald_domain::{AccountId, MessageId};

    use super::*;

    fn message(channel: Channel, recipient: &str) -> ClaimedMessage {
        ClaimedMessage {
            id: MessageId::new(),
            account_id: AccountId::new(),
            channel,
            recipient: herald_domain::Recipient::from_stored(channel, recipient.to_owned()),
            sender: None,
            body: "hi".into(),
            content: Default::default(),
            user_id: None,
            tags: Default::default(),
            campaign: None,
            retry_count: 0,
            segments: None,
        }
    }

    #[test]
    fn every_channel_publishes_the_briefs_notification_sent() {
        let at = Utc::now();
        for channel in [Channel::Sms, Channel::Email, Channel::Push] {
            let mut sent = message(channel, "x");
            sent.user_id = Some("12345".into());
            let events = message_sent(&sent, "a", None, at);
            let brief =
                events.iter().find(|e| e.event_type == "notification.sent").expect("notification.sent");
            assert_eq!(brief.payload["event_type"], "notification.sent");
            assert_eq!(brief.payload["user_id"], "12345");
            assert_eq!(brief.payload["notification_id"], json!(sent.id));
            assert_eq!(brief.payload["channel"], channel.as_str());
            assert_eq!(brief.payload["timestamp"], json!(at));
        }
    }

    #[test]
    fn payloads_name_the_recipient_to_and_sms_keeps_phone_number() {
        let at = Utc::now();
        let sms = message_sent(&message(Channel::Sms, "+31633450007"), "a", None, at);
        let types: Vec<&str> = sms.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["sms.sent"], "an SMS to no user keeps the SMS processor's one event");
        assert_eq!(sms[0].payload["to"], "+31633450007");
        assert_eq!(sms[0].payload["phone_number"], "+31633450007");
        let email = message_sent(&message(Channel::Email, "ada@example.com"), "a", None, at);
        assert_eq!(email.len(), 1);
        let email = &email[0];
        assert_eq!(email.event_type, "notification.sent");
        assert_eq!(email.payload["to"], "ada@example.com");
        assert!(email.payload.get("phone_number").is_none());
        let failed = notification_failed(&message(Channel::Push, "token-1"), "a", "gone", at, true);
        assert_eq!(failed.payload["to"], "token-1");
        assert_eq!(failed.payload["recipient_invalid"], true);
    }
}
