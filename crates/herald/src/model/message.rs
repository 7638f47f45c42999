//! Messages: what intake stores, what a worker claims, what an attempt commits, the timeline.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, Channel, CustomerId, MessageId, MessageStatus, Recipient};
use serde::{Deserialize, Serialize};

use super::{IdempotentResponse, KeyClaim, OutboxEvent};

/// A validated message, ready to be stored as `pending`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub account_id: AccountId,
    pub channel: Channel,
    /// E.164 number for SMS; address or token for other channels.
    pub recipient: Recipient,
    pub sender: Option<String>,
    pub body: String,
    /// Subject, HTML and data of an email or push notification.
    pub content: RichContent,
    pub user_id: Option<String>,
    /// What the client attached: see [`ClientTags`].
    pub tags: ClientTags,
    pub created_at: DateTime<Utc>,
    /// The idempotency key this message completes, with the response to replay for it.
    pub idempotency: Option<IdempotentResponse>,
    /// The template version it was rendered from.
    pub template: Option<TemplateUse>,
    /// Held back (scheduled) or not sent at all (suppressed) from the start.
    pub hold: Option<Hold>,
    /// Events written with it (a suppressed message's `notification.suppressed`).
    pub events: Vec<OutboxEvent>,
}

/// The template and version a message was rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateUse {
    pub id: herald_domain::TemplateId,
    pub version: u32,
}

/// What intake decided besides "send now": stored with the message in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// `scheduled` until `until`: the caller's `send_at`, or the end of quiet hours
    /// (`reason` says which, for the timeline).
    Until { until: DateTime<Utc>, reason: String },
    /// `suppressed` at once, with the reason (`last_error`) and a `notification.suppressed`
    /// event (in [`NewMessage::events`]).
    Suppressed { reason: String },
}

impl Hold {
    pub fn status(&self) -> MessageStatus {
        match self {
            Self::Until { .. } => MessageStatus::Scheduled,
            Self::Suppressed { .. } => MessageStatus::Suppressed,
        }
    }

    /// The timeline entry it makes.
    pub fn event_kind(&self) -> MessageEventKind {
        match self {
            Self::Until { .. } => MessageEventKind::Scheduled,
            Self::Suppressed { .. } => MessageEventKind::Suppressed,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Until { reason, .. } | Self::Suppressed { reason, .. } => reason,
        }
    }
}

/// What a client attached to a message, kept with it and echoed in its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientTags {
    /// The client's own reference for the message.
    pub reference: Option<String>,
    /// The idempotency key the message was accepted under.
    pub idempotency_key: Option<String>,
    /// Free JSON metadata.
    pub metadata: Option<serde_json::Value>,
}

/// SMS parts a text of `channel` is sent in: GSM-7 or UCS-2 segments for SMS and WhatsApp
/// (what the sender pays for), `None` for email and push.
pub fn sms_segments(channel: Channel, text: &str) -> Option<u32> {
    matches!(channel, Channel::Sms | Channel::Whatsapp)
        .then(|| u32::try_from(herald_domain::sms_length(text).segments).unwrap_or(u32::MAX))
}

impl NewMessage {
    /// [`sms_segments`] of this message's text.
    pub fn segments(&self) -> Option<u32> {
        sms_segments(self.channel, &self.body)
    }
}

/// What an email or a push notification carries besides its recipient, sender and text.
/// Empty for SMS and WhatsApp. Stored as the `subject` column and one JSON `content`
/// column for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichContent {
    /// The email subject, or the push notification's title.
    #[serde(skip)]
    pub subject: Option<String>,
    /// The HTML alternative of an email's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Where replies to an email go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Sent as the email's `List-Unsubscribe` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe_url: Option<String>,
    /// A push notification's data map.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

impl RichContent {
    /// The `content` column: everything but the subject, or `None` when that is empty.
    pub fn stored_json(&self) -> Option<serde_json::Value> {
        let rest = Self { subject: None, ..self.clone() };
        (rest != Self::default()).then(|| serde_json::to_value(rest).unwrap_or_default())
    }

    /// Back from the `subject` and `content` columns.
    pub fn from_stored(
        subject: Option<String>,
        content: Option<serde_json::Value>,
    ) -> serde_json::Result<Self> {
        let rest = match content {
            Some(json) => serde_json::from_value(json)?,
            None => Self::default(),
        };
        Ok(Self { subject, ..rest })
    }
}

/// A message for [`crate::ports::MessageStore::insert_messages`]: with a key claim, the
/// message is inserted only if the key is acquired (its key and response travel in
/// `message.idempotency`).
#[derive(Debug, Clone)]
pub struct KeyedMessage {
    pub message: NewMessage,
    pub claim: Option<KeyClaim>,
}

/// A stored message, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub account_id: AccountId,
    pub channel: Channel,
    pub recipient: Recipient,
    pub sender: Option<String>,
    pub body: String,
    pub content: RichContent,
    pub user_id: Option<String>,
    pub tags: ClientTags,
    /// Set for campaign messages: their body is rendered by the worker when first claimed.
    pub campaign: Option<CampaignLink>,
    /// The template version it was rendered from.
    pub template: Option<TemplateUse>,
    pub status: MessageStatus,
    pub retry_count: u32,
    /// SMS parts of the text (see [`sms_segments`]); `None` for email, push, and a campaign
    /// message not rendered yet.
    pub segments: Option<u32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message a worker holds under a lease: what it needs to call the provider.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: MessageId,
    pub account_id: AccountId,
    pub channel: Channel,
    pub recipient: Recipient,
    pub sender: Option<String>,
    pub body: String,
    pub content: RichContent,
    pub user_id: Option<String>,
    pub tags: ClientTags,
    pub campaign: Option<CampaignLink>,
    pub retry_count: u32,
    /// As stored (see [`sms_segments`]); set by the worker when it renders a campaign message.
    pub segments: Option<u32>,
}

/// The campaign and customer a campaign message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignLink {
    pub campaign_id: CampaignId,
    pub customer_id: CustomerId,
}

impl From<Message> for ClaimedMessage {
    fn from(message: Message) -> Self {
        Self {
            id: message.id,
            account_id: message.account_id,
            channel: message.channel,
            recipient: message.recipient,
            sender: message.sender,
            body: message.body,
            content: message.content,
            user_id: message.user_id,
            tags: message.tags,
            campaign: message.campaign,
            retry_count: message.retry_count,
            segments: message.segments,
        }
    }
}

/// The result of one provider attempt, to be committed with its event (and outbox row).
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub message_id: MessageId,
    pub account_id: AccountId,
    pub at: DateTime<Utc>,
    pub result: AttemptResult,
}

#[derive(Debug, Clone)]
pub enum AttemptResult {
    Sent {
        provider: String,
        provider_message_id: Option<String>,
        /// `notification.sent`, or for an SMS `sms.sent` (and `notification.sent` when it
        /// is for a user).
        events: Vec<OutboxEvent>,
    },
    RetryScheduled {
        provider: String,
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    Failed {
        provider: String,
        error: String,
        event: OutboxEvent,
    },
    /// Not attempted: the provider's circuit breaker is open. Waits, uncounted, until `until`.
    Deferred {
        provider: String,
        reason: String,
        until: DateTime<Utc>,
    },
}

/// Builds the `notification.failed` event of a message that ran out of retries, from the
/// message and its final error (the dispatcher's builder; tests pass their own).
pub type FailedEventBuilder<'a> =
    dyn Fn(&ClaimedMessage, &str, DateTime<Utc>) -> OutboxEvent + Send + Sync + 'a;

/// What the lease sweep ([`crate::ports::MessageStore::requeue_expired_leases`]) needs.
pub struct LeaseSweep<'a> {
    /// Leases that expired at or before this are swept.
    pub now: DateTime<Utc>,
    /// Retries each channel allows, in [`Channel::ALL`] order: a lost lease uses one, as a
    /// failed attempt does, and a message with none left ends `failed`.
    pub max_retries: [u32; 4],
    /// Named as the provider of a message that ends `failed` this way (its row, event and
    /// metrics): the worker that was lost sent through the same configured provider.
    pub provider: &'a str,
    /// A lease holder that never sends (the AMQP job transport, while a message's id waits
    /// in the queue): its expired leases are requeued without using a retry.
    pub uncounted_owner: &'a str,
    pub failed_event: &'a FailedEventBuilder<'a>,
}

impl std::fmt::Debug for LeaseSweep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseSweep")
            .field("now", &self.now)
            .field("max_retries", &self.max_retries)
            .field("provider", &self.provider)
            .field("uncounted_owner", &self.uncounted_owner)
            .finish_non_exhaustive()
    }
}

impl LeaseSweep<'_> {
    /// `(channel, max_retries)` for every channel.
    pub fn limits(&self) -> impl Iterator<Item = (Channel, u32)> + '_ {
        Channel::ALL.into_iter().zip(self.max_retries)
    }
}

/// What one lease sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweptLeases {
    /// Back to `pending` after a lost attempt, with one retry used.
    pub retried: u64,
    /// Back to `pending` without using a retry (held by the uncounted owner: never sent).
    pub requeued: u64,
    /// Out of retries: now `failed`, each with its `notification.failed` event.
    pub failed: u64,
    /// The campaigns of the messages that failed (one may have ended with them).
    pub campaigns: Vec<CampaignId>,
}

impl SweptLeases {
    pub fn total(&self) -> u64 {
        self.retried + self.requeued + self.failed
    }
}

/// One entry of a message's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageEvent {
    pub kind: MessageEventKind,
    pub status: MessageStatus,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl MessageEvent {
    /// Whether the entry records an attempt: one the provider answered, or one lost with its
    /// worker (a lease that expired, except one the AMQP transport held: nothing was sent).
    pub fn is_attempt(&self) -> bool {
        match self.kind {
            MessageEventKind::AttemptSucceeded | MessageEventKind::AttemptFailed => true,
            MessageEventKind::LeaseExpired => self.detail.as_deref() != Some(UNCOUNTED_LEASE_DETAIL),
            MessageEventKind::Accepted
            | MessageEventKind::Replayed
            | MessageEventKind::Deferred
            | MessageEventKind::DeliveryReceipt
            | MessageEventKind::Scheduled
            | MessageEventKind::Suppressed
            | MessageEventKind::StatusChanged => false,
        }
    }
}

/// Timeline detail of a lease the uncounted owner let expire (an id that waited in the jobs
/// queue too long): nothing was sent under it.
pub const UNCOUNTED_LEASE_DETAIL: &str = "lease expired before any worker took it; not an attempt";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageEventKind {
    Accepted,
    AttemptSucceeded,
    AttemptFailed,
    LeaseExpired,
    Replayed,
    Deferred,
    /// The provider's delivery receipt moved the message to `delivered` or `undelivered`.
    DeliveryReceipt,
    /// Held back at intake until a time: a `send_at`, or the end of quiet hours.
    Scheduled,
    /// Not sent because of the recipient's preferences.
    Suppressed,
    /// The client changed the status (`PUT /api/v1/notifications/{id}/status`).
    StatusChanged,
}

impl MessageEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::AttemptSucceeded => "attempt_succeeded",
            Self::AttemptFailed => "attempt_failed",
            Self::LeaseExpired => "lease_expired",
            Self::Replayed => "replayed",
            Self::Deferred => "deferred",
            Self::DeliveryReceipt => "delivery_receipt",
            Self::Scheduled => "scheduled",
            Self::Suppressed => "suppressed",
            Self::StatusChanged => "status_changed",
        }
    }

    pub const ALL: [Self; 10] = [
        Self::Accepted,
        Self::AttemptSucceeded,
        Self::AttemptFailed,
        Self::LeaseExpired,
        Self::Replayed,
        Self::Deferred,
        Self::DeliveryReceipt,
        Self::Scheduled,
        Self::Suppressed,
        Self::StatusChanged,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

impl std::str::FromStr for MessageEventKind {
    type Err = UnknownEventKind;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value).ok_or_else(|| UnknownEventKind(value.to_owned()))
    }
}

/// A stored timeline entry kind herald does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown message event kind {0:?}")]
pub struct UnknownEventKind(String);

// Bound to SQL as its name (docs/adr/0015-domain-types-bound-to-sql.md).
herald_domain::sql_text_enum!(MessageEventKind);

/// Which dead letters (failed messages) an operation is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    pub channel: Option<Channel>,
    pub provider: Option<String>,
}

/// A status change a client asks for: to `to`, if the message is in one of `from`.
#[derive(Debug, Clone)]
pub struct StatusChange<'a> {
    pub account: AccountId,
    pub id: MessageId,
    pub to: MessageStatus,
    pub from: &'a [MessageStatus],
    /// The timeline entry's detail.
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// What became of a [`StatusChange`].
#[derive(Debug, Clone, PartialEq)]
pub enum StatusChanged {
    Changed(Box<Message>),
    /// The message is in a status the change does not start from.
    Refused(MessageStatus),
    NotFound,
}

/// What `GET /api/v1/notifications/user/{user_id}` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    pub template: Option<herald_domain::TemplateId>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
}

/// A place in a newest-first list of messages (a user's history, a search): the messages
/// older than this one (by creation time, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub created_at: DateTime<Utc>,
    pub id: MessageId,
}

impl From<&Message> for MessageCursor {
    /// Where the messages older than `message` start.
    fn from(message: &Message) -> Self {
        Self { created_at: message.created_at, id: message.id }
    }
}

impl std::fmt::Display for MessageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.created_at.timestamp_micros(), self.id)
    }
}

impl std::str::FromStr for MessageCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (micros, id) = text.split_once('_').ok_or(())?;
        let micros: i64 = micros.parse().map_err(|_| ())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or(())?,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// A message in a user's history, with the name its template had in the version it was
/// sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub message: Message,
    pub template_name: Option<String>,
}

/// What `GET /api/v1/notifications` looks for in an account's messages; every field given
/// must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSearch {
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    /// The recipient exactly as stored (E.164 for a phone number).
    pub recipient: Option<String>,
    pub campaign: Option<CampaignId>,
}

/// A message found by a search, with the attempts made at it so far (as its timeline
/// counts them: [`MessageEvent::is_attempt`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundMessage {
    pub message: Message,
    pub attempts: u32,
}

/// What happened to an account's messages since a point in time, read from the database
/// (so every process's work counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Messages created since.
    pub accepted: u64,
    /// Messages the provider accepted since (whatever happened to them after: delivered,
    /// read, undelivered).
    pub sent: u64,
    /// Messages that failed since and are still failed (a replayed one is back in flight).
    pub failed: u64,
    /// Dead letters now, whenever they failed: failed messages not replayed (nor imported
    /// failed from the monolith, which cannot be replayed).
    pub dead_letters: u64,
}

/// The pending backlog, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: u64,
    /// The earliest `next_attempt_at` that has passed, if any message is overdue.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// Message counts per status, for drains, tests and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub other: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.pending + self.sending + self.sent + self.failed + self.other
    }
}

#[cfg(test)]
mod tests {
    use super::MessageEventKind;

    #[test]
    fn every_event_kind_round_trips_through_its_name() {
        for kind in MessageEventKind::ALL {
            // A new variant must be added to ALL: this match stops compiling otherwise.
            match kind {
                MessageEventKind::Accepted
                | MessageEventKind::AttemptSucceeded
                | MessageEventKind::AttemptFailed
                | MessageEventKind::LeaseExpired
                | MessageEventKind::Replayed
                | MessageEventKind::Deferred
                | MessageEventKind::DeliveryReceipt
                | MessageEventKind::Scheduled
                | MessageEventKind::Suppressed
                | MessageEventKind::StatusChanged => {}
            }
            assert_eq!(MessageEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MessageEventKind::ALL.len(), 10);
    }
}
