//! Records that cross the store port: what goes in, what comes out.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId, Channel, EventId, MessageId, MessageStatus};
use serde::Serialize;

/// A validated message, ready to be stored as `pending`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub account_id: AccountId,
    pub channel: Channel,
    /// E.164 number for SMS; address or token for other channels.
    pub recipient: String,
    pub sender: Option<String>,
    pub body: String,
    pub user_id: Option<String>,
    /// What the client attached: see [`ClientTags`].
    pub tags: ClientTags,
    pub created_at: DateTime<Utc>,
    /// The idempotency key this message completes, with the response to replay for it.
    pub idempotency: Option<IdempotentResponse>,
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

/// The response stored with an idempotency key, replayed for repeats of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub key: String,
    pub status: u16,
    pub body: String,
}

/// An idempotency key to claim together with a message's insert (batch intake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub fingerprint: [u8; 32],
    pub now: DateTime<Utc>,
    /// An in-flight claim locked before this is taken to be abandoned.
    pub stale_before: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A message for [`crate::ports::MessageStore::insert_messages`]: with a key claim, the
/// message is inserted only if the key is acquired (its key and response travel in
/// `message.idempotency`).
#[derive(Debug, Clone)]
pub struct KeyedMessage {
    pub message: NewMessage,
    pub claim: Option<KeyClaim>,
}

/// What the store knows of an idempotency key when a request arrives with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is now this request's: go ahead, and complete it with the message insert.
    Acquired,
    /// The first request with this key finished; its response and request fingerprint.
    Completed { fingerprint: [u8; 32], status: u16, body: String },
    /// The first request with this key is still running.
    InFlight { fingerprint: [u8; 32] },
}

/// A stored message, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub account_id: AccountId,
    pub channel: Channel,
    pub recipient: String,
    pub sender: Option<String>,
    pub body: String,
    pub user_id: Option<String>,
    pub tags: ClientTags,
    /// Set for campaign messages: their body is rendered by the worker when first claimed.
    pub campaign: Option<CampaignLink>,
    pub status: MessageStatus,
    pub retry_count: u32,
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
    pub recipient: String,
    pub sender: Option<String>,
    pub body: String,
    pub user_id: Option<String>,
    pub tags: ClientTags,
    pub campaign: Option<CampaignLink>,
    pub retry_count: u32,
}

/// The campaign and customer a campaign message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignLink {
    pub campaign_id: i64,
    pub customer_id: i64,
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
            user_id: message.user_id,
            tags: message.tags,
            campaign: message.campaign,
            retry_count: message.retry_count,
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
        event: OutboxEvent,
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
    pub campaigns: Vec<i64>,
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
            MessageEventKind::Accepted | MessageEventKind::Replayed | MessageEventKind::Deferred => false,
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
        }
    }

    pub const ALL: [Self; 6] = [
        Self::Accepted,
        Self::AttemptSucceeded,
        Self::AttemptFailed,
        Self::LeaseExpired,
        Self::Replayed,
        Self::Deferred,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// An event in the transactional outbox, in the envelope herald publishes everywhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEvent {
    pub event_id: EventId,
    pub event_type: String,
    pub aggregate_id: String,
    pub user_id: Option<String>,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub timestamp: DateTime<Utc>,
}

/// An outbox event with its position in the account's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub sequence: i64,
    /// The transaction that wrote it, on PostgreSQL (its `xid8`); 0 on SQLite.
    pub transaction: i64,
    pub account_id: AccountId,
    pub event: OutboxEvent,
}

impl StoredEvent {
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor { transaction: self.transaction, sequence: self.sequence }
    }
}

/// A position in the event feed, which is ordered by writing transaction, then sequence.
/// Written `<sequence>` when the transaction is 0 (SQLite, whose one writer commits in
/// sequence order), `<transaction>-<sequence>` otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedCursor {
    pub transaction: i64,
    pub sequence: i64,
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.transaction {
            0 => write!(f, "{}", self.sequence),
            transaction => write!(f, "{transaction}-{}", self.sequence),
        }
    }
}

impl std::str::FromStr for FeedCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let number = |part: &str| part.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(());
        match text.split_once('-') {
            None => Ok(Self { transaction: 0, sequence: number(text)? }),
            Some((transaction, sequence)) => {
                Ok(Self { transaction: number(transaction)?, sequence: number(sequence)? })
            }
        }
    }
}

/// An API key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub account_id: AccountId,
    pub name: String,
    pub prefix: String,
    pub hash: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which dead letters (failed messages) an operation is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    pub channel: Option<Channel>,
    pub provider: Option<String>,
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
    use super::{FeedCursor, MessageEventKind};

    #[test]
    fn feed_cursors_round_trip_and_reject_junk() {
        for cursor in
            [FeedCursor { transaction: 0, sequence: 42 }, FeedCursor { transaction: 7_001, sequence: 42 }]
        {
            assert_eq!(cursor.to_string().parse::<FeedCursor>(), Ok(cursor));
        }
        assert_eq!("42".parse::<FeedCursor>(), Ok(FeedCursor { transaction: 0, sequence: 42 }));
        for junk in ["", "-1", "1-", "a-1", "1-2-3", "1.5"] {
            assert!(junk.parse::<FeedCursor>().is_err(), "{junk}");
        }
    }

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
                | MessageEventKind::Deferred => {}
            }
            assert_eq!(MessageEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MessageEventKind::ALL.len(), 6);
    }
}

/// A customer (the campaign brief's `customers`; herald's contacts).
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub account_id: AccountId,
    pub fields: CustomerFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a customer is made of, as given by the client (phone already in E.164).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFields {
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub location: Option<String>,
    pub preferred_product: Option<String>,
    /// Free attributes, read by templates as `{attributes.<key>}`.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl Customer {
    /// The customer's values by template placeholder name: fields, then `attributes.<key>`
    /// (text as is, other JSON values as their JSON text; null is missing).
    pub fn template_values(&self) -> std::collections::HashMap<String, String> {
        let f = &self.fields;
        let mut values = std::collections::HashMap::new();
        values.insert("id".to_owned(), self.id.to_string());
        values.insert("phone".to_owned(), f.phone.clone());
        for (name, value) in [
            ("first_name", &f.first_name),
            ("last_name", &f.last_name),
            ("email", &f.email),
            ("location", &f.location),
            ("preferred_product", &f.preferred_product),
        ] {
            if let Some(value) = value {
                values.insert(name.to_owned(), value.clone());
            }
        }
        for (key, value) in &f.attributes {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            values.insert(format!("attributes.{key}"), text);
        }
        values
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub account_id: AccountId,
    pub name: String,
    pub channel: Channel,
    pub status: herald_domain::CampaignStatus,
    pub base_template: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: i64,
    pub account_id: AccountId,
    pub name: String,
    pub channel: Channel,
    pub status: herald_domain::CampaignStatus,
    pub base_template: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of `GET /campaigns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    pub channel: Option<Channel>,
    pub status: Option<herald_domain::CampaignStatus>,
}

/// Where a page of a campaign listing begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// After this many campaigns of the snapshot (a page number).
    Offset(u64),
    /// Just below this campaign id (the last one the previous page showed): a campaign
    /// that commits late inside the snapshot can then never push one already seen onto
    /// the next page again.
    Below(i64),
}

/// One page of campaigns, newest first, as of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignPage {
    pub campaigns: Vec<Campaign>,
    /// More campaigns of the snapshot come after this page.
    pub more: bool,
    /// Campaigns matching the filter in the snapshot.
    pub total: u64,
    /// The highest campaign id the listing sees: later pages of the same listing pass it
    /// back, so campaigns created meanwhile do not shift them.
    pub snapshot: i64,
}

/// Counts of a campaign's messages by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignStats {
    pub total: u64,
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
}

/// `POST /campaigns/{id}/send`, as the store carries it out in one transaction.
#[derive(Debug, Clone)]
pub struct CampaignStart {
    pub account_id: AccountId,
    pub campaign_id: i64,
    /// Distinct customer ids, each with the id of the message it gets.
    pub recipients: Vec<(i64, MessageId)>,
    pub sender: String,
    /// The campaign's status once started: `sending`, or `scheduled` when `due_at` is later.
    pub status: herald_domain::CampaignStatus,
    /// When the messages are due (now, or the campaign's `scheduled_at`).
    pub due_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// The request's idempotency key and response, claimed and completed in the start's
    /// transaction (with `claim`).
    pub idempotency: Option<IdempotentResponse>,
    pub claim: Option<KeyClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    NotFound,
    /// The campaign is not `draft`/`scheduled`, or already has its messages.
    NotSendable(herald_domain::CampaignStatus),
    /// These customer ids are not the account's: nothing was created.
    UnknownCustomers(Vec<i64>),
    /// The idempotency key is another request's (done, or still running elsewhere):
    /// nothing was done; what the key holds.
    KeyTaken(IdempotencyClaim),
}
