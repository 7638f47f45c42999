//! The ports services depend on. Adapters (SQLite, PostgreSQL, providers) implement
//! them; `app.rs` picks which.

use std::time::Duration;

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId, CampaignStatus, Channel, MessageId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::model::{
    ApiKeyRecord, AttemptOutcome, Campaign, CampaignFilter, CampaignPage, CampaignStart, CampaignStats,
    ClaimedMessage, Customer, CustomerFields, DeadLetterFilter, FeedCursor, IdempotencyClaim, KeyedMessage,
    LeaseSweep, Message, MessageEvent, NewCampaign, NewMessage, PageStart, QueueStats, StartOutcome,
    StatusCounts, StoredEvent, SweptLeases,
};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database refused a write probe (a recent one; its error as text).
    #[error("the database does not take writes: {0}")]
    NotWritable(String),
}

impl StoreError {
    /// Whether the database cannot take writes (or be reached) right now: a full disk, an
    /// I/O error, a lost connection, a lock that did not come free. Such a failure says
    /// nothing about the request; the same request may succeed later, so the API answers
    /// 503 instead of 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(error) => crate::store::is_unavailable(error),
            Self::NotWritable(_) => true,
            Self::Migration(_) | Self::Corrupt(_) => false,
        }
    }
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Returns the default account, creating it on first use.
    async fn ensure_default_account(&self) -> StoreResult<AccountId>;
    /// Stores a key; a key with the same hash already stored is left as it is.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks a key revoked; false when there is no such active key.
    async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a `pending` message and its `accepted` timeline entry in one transaction,
    /// completing its idempotency key (if any) in the same transaction.
    async fn insert_message(&self, message: &NewMessage) -> StoreResult<()>;
    /// Batch intake, in one transaction: for each item, claims its key (if any) and, when
    /// acquired, inserts the message as [`MessageStore::insert_message`] does. Returns per
    /// item `Acquired` (inserted) or the key's existing state (nothing inserted).
    async fn insert_messages(&self, batch: &[KeyedMessage]) -> StoreResult<Vec<IdempotencyClaim>>;
    /// The message if it exists and belongs to `account`.
    async fn get_message(&self, account: AccountId, id: MessageId) -> StoreResult<Option<Message>>;
    async fn list_message_events(&self, id: MessageId) -> StoreResult<Vec<MessageEvent>>;
    /// Atomically moves up to `limit` due `pending` messages to `sending` under a lease held
    /// by `owner` until `lease_until`. No two callers ever get the same message while its
    /// lease is valid.
    async fn claim_due_messages(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedMessage>>;
    /// Moves leases on `ids` held by `from` to `to` until `lease_until` (a worker taking a
    /// message the AMQP job transport handed it) and returns the messages moved; ids not
    /// held by `from` (already final, or taken by another worker) are left alone.
    async fn take_over_leases(
        &self,
        ids: &[MessageId],
        from: &str,
        to: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedMessage>>;
    /// Commits a batch of attempt results in one transaction: each message's new state, its
    /// timeline entry and, for a success, its outbox event. Results for messages whose
    /// lease `owner` no longer holds are dropped. Returns how many were applied.
    async fn record_outcomes(&self, owner: &str, outcomes: &[AttemptOutcome]) -> StoreResult<u64>;
    /// Gives up `owner`'s leases on `ids` (unsent at shutdown): back to `pending`, due at
    /// `now`. Returns how many were released.
    async fn release_leases(&self, owner: &str, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64>;
    /// Sweeps `sending` messages whose lease expired by `sweep.now` (their worker died or
    /// hung), in one transaction. A lost lease counts as an attempt: a message with
    /// retries left goes back to `pending`, due at once, with one more retry used; one
    /// with none left ends `failed` (with `last_error`, its `notification.failed` event
    /// from `sweep.failed_event`, and so in the dead letters). Leases of
    /// `sweep.uncounted_owner` go back to `pending` uncounted. Each message swept gets a
    /// `lease_expired` timeline entry.
    async fn requeue_expired_leases(&self, sweep: &LeaseSweep<'_>) -> StoreResult<SweptLeases>;
    async fn status_counts(&self) -> StoreResult<StatusCounts>;
    /// Pending messages and the oldest that is due by `now` (cheap: uses the claim index).
    async fn queue_stats(&self, now: DateTime<Utc>) -> StoreResult<QueueStats>;
    /// The account's failed messages matching `filter`, newest first, with ids below
    /// `before` when given (the pagination cursor).
    async fn list_dead_letters(
        &self,
        account: AccountId,
        filter: &DeadLetterFilter,
        before: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// Moves failed messages back to `pending` with a fresh retry budget, due at `now`:
    /// those in `ids` when given, otherwise every one matching `filter`. Returns the ids
    /// replayed; ids that are not failed messages of the account are skipped.
    async fn replay_dead_letters(
        &self,
        account: AccountId,
        ids: Option<&[MessageId]>,
        filter: &DeadLetterFilter,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    // Keys are claimed inside the transaction of what they create: see
    // `MessageStore::insert_messages` and `CampaignStore::start_campaign`.
    /// Deletes keys that expired before `now`; returns how many.
    async fn purge_expired_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// The account's events after `after` (exclusive), in feed order. An event is listed
    /// only once no event can still commit before it in that order, so a reader that
    /// follows the cursor never skips one.
    async fn list_events(
        &self,
        account: AccountId,
        after: FeedCursor,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Events the relay has not published yet, all accounts, oldest first.
    async fn unpublished_events(&self, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// Records that these events reached the broker.
    async fn mark_events_published(&self, sequences: &[i64], at: DateTime<Utc>) -> StoreResult<u64>;
    /// How many events wait for the relay, and when the oldest of them was written.
    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<DateTime<Utc>>)>;
}

/// A process-wide role held by one process at a time (e.g. the outbox relay, so events
/// leave in order). Dropping it gives the role up.
#[async_trait]
pub trait SingletonLease: Send {
    /// Whether the role is still held (the connection that holds it is alive).
    async fn still_held(&mut self) -> bool;
}

/// Customers and campaigns (the campaign brief).
#[async_trait]
pub trait CampaignStore: Send + Sync {
    async fn insert_customer(
        &self,
        account: AccountId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer>;
    async fn get_customer(&self, account: AccountId, id: i64) -> StoreResult<Option<Customer>>;
    /// Replaces a customer's fields; `None` when the account has no such customer.
    async fn update_customer(
        &self,
        account: AccountId,
        id: i64,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Customer>>;
    /// Deletes a customer unless campaign messages to them are still on their way
    /// (`Some(false)`); `None` when the account has no such customer.
    async fn delete_customer(&self, account: AccountId, id: i64) -> StoreResult<Option<bool>>;
    /// Many customers in one transaction (imports); their ids, in order.
    async fn insert_customers(
        &self,
        account: AccountId,
        customers: &[CustomerFields],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>>;
    /// The account's customers with ids above `after`, in id order.
    async fn list_customers(&self, account: AccountId, after: i64, limit: u32) -> StoreResult<Vec<Customer>>;
    async fn insert_campaign(&self, campaign: &NewCampaign) -> StoreResult<Campaign>;
    async fn get_campaign(&self, account: AccountId, id: i64) -> StoreResult<Option<Campaign>>;
    /// Campaigns matching `filter` with ids up to `snapshot` (all when `None`), newest
    /// first, from `start`; with the total in that snapshot.
    async fn list_campaigns(
        &self,
        account: AccountId,
        filter: CampaignFilter,
        snapshot: Option<i64>,
        start: PageStart,
        limit: u32,
    ) -> StoreResult<CampaignPage>;
    async fn campaign_stats(&self, campaign: i64) -> StoreResult<CampaignStats>;
    /// Moves the campaign from `draft`/`scheduled` to `start.status` and creates one
    /// `pending` message per recipient (body rendered later by the worker), all in one
    /// transaction; nothing changes unless the outcome is `Started`.
    async fn start_campaign(&self, start: &CampaignStart) -> StoreResult<StartOutcome>;
    /// Templates of these campaigns and these customers, for rendering.
    async fn render_inputs(
        &self,
        campaigns: &[i64],
        customers: &[i64],
    ) -> StoreResult<(HashMap<i64, String>, HashMap<i64, Customer>)>;
    /// Stores the bodies rendered for campaign messages.
    async fn save_rendered(&self, bodies: &[(MessageId, String)], at: DateTime<Utc>) -> StoreResult<()>;
    /// `scheduled` campaigns whose time has come (at most `limit`): id, account, and
    /// whether their messages exist already (sent before their time).
    async fn due_campaigns(&self, now: DateTime<Utc>, limit: u32)
        -> StoreResult<Vec<(i64, AccountId, bool)>>;
    /// Every customer id of the account, in id order.
    async fn customer_ids(&self, account: AccountId) -> StoreResult<Vec<i64>>;
    /// Moves a campaign to `to` if its status is one of `from`; whether it moved.
    async fn set_campaign_status(
        &self,
        campaign: i64,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends campaigns among `campaigns` whose messages are all final (and that are due):
    /// `sent`, or `failed` when every message failed. Returns how many ended.
    async fn finish_campaigns(&self, campaigns: &[i64], now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Everything herald keeps, behind one handle.
#[async_trait]
pub trait Store: AccountStore + MessageStore + OutboxStore + IdempotencyStore + CampaignStore {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
    /// Commits a small write and removes it again, for readiness: fails while the database
    /// cannot store a message (a full disk, a read-only file system). Runs at most once a
    /// second; calls in between get the last answer.
    async fn probe_writes(&self) -> StoreResult<()>;
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Wakes `wake` whenever another process makes work due (new or replayed messages),
    /// until `shutdown`. Backends without cross-process signals return at once: workers
    /// then rely on in-process wake-ups and the poll interval.
    async fn listen_for_work(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let _ = (wake, shutdown);
    }
    async fn close(&self);
    /// Takes the role `name` if no other process holds it; `None` if one does.
    async fn try_singleton(&self, name: &str) -> StoreResult<Option<Box<dyn SingletonLease>>>;
}

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
