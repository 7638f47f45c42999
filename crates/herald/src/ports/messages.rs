//! Messages: intake, claims, attempt results, leases, dead letters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, MessageId};

use super::StoreResult;
use crate::model::{
    Activity, AttemptOutcome, ClaimedMessage, DeadLetterFilter, FoundMessage, HistoryEntry, HistoryFilter,
    IdempotencyClaim, KeyedMessage, LeaseSweep, Message, MessageCursor, MessageEvent, MessageSearch,
    NewMessage, OutboxEvent, QueueStats, ReceiptApplied, ReceiptUpdate, StatusChange, StatusChanged,
    StatusCounts, SweptLeases,
};

/// Builds the event a delivery receipt publishes, from the message it moved.
pub type ReceiptEventBuilder<'a> = dyn Fn(&Message) -> OutboxEvent + Send + Sync + 'a;

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a `pending` message and its `accepted` timeline entry in one transaction,
    /// completing its idempotency key (if any) in the same transaction.
    async fn insert_message(&self, message: &NewMessage) -> StoreResult<()>;
    /// Batch intake, in one transaction: for each item, claims its key (if any) and, when
    /// acquired, inserts the message as [`MessageStore::insert_message`] does. Returns per
    /// item `Acquired` (inserted) or the key's existing state (nothing inserted). The claims
    /// of one batch are made at one time: intake gives them one `now`, cut-off and expiry,
    /// and a backend may take the first claim's for all.
    async fn insert_messages(&self, batch: &[KeyedMessage]) -> StoreResult<Vec<IdempotencyClaim>>;
    /// The message if it exists and belongs to `account`.
    async fn get_message(&self, account: AccountId, id: MessageId) -> StoreResult<Option<Message>>;
    /// A page of a user's messages, newest first (creation time, then id), those older than
    /// `before`, with each one's template name joined in: one query per page.
    async fn user_history(
        &self,
        account: AccountId,
        user_id: &herald_domain::UserId,
        filter: &HistoryFilter,
        before: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<HistoryEntry>>;
    /// A page of the account's messages matching `search`, newest first (creation time, then
    /// id), those older than `before`, each with its attempts counted.
    async fn search_messages(
        &self,
        account: AccountId,
        search: &MessageSearch,
        before: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<FoundMessage>>;
    /// The account's messages accepted, sent and failed since `since`, and its dead letters
    /// now: counted in the database, each from an index.
    async fn activity(&self, account: AccountId, since: DateTime<Utc>) -> StoreResult<Activity>;
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
    /// Applies a final delivery receipt, in one transaction: a `sent` message the receipt's
    /// provider sent moves to `delivered` or `undelivered` (with the receipt's reason as
    /// `last_error`), gets a `delivery_receipt` timeline entry and the event `event` builds.
    /// Any other message is left as it is, and the answer says why.
    async fn apply_receipt(
        &self,
        receipt: &ReceiptUpdate<'_>,
        event: &ReceiptEventBuilder<'_>,
    ) -> StoreResult<ReceiptApplied>;
    /// Moves a message to the status a client asks for, if it is in one the change starts
    /// from: one conditional update, its timeline entry and its event in one transaction.
    async fn change_status(
        &self,
        change: &StatusChange<'_>,
        event: &ReceiptEventBuilder<'_>,
    ) -> StoreResult<StatusChanged>;
    async fn status_counts(&self) -> StoreResult<StatusCounts>;
    /// Messages waiting (pending or scheduled) and the oldest that is due by `now` (cheap:
    /// uses the claim index).
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
    /// those in `ids` that also match `filter` when ids are given, otherwise every one
    /// matching `filter`. Returns the ids
    /// replayed; ids that are not failed messages of the account are skipped.
    async fn replay_dead_letters(
        &self,
        account: AccountId,
        ids: Option<&[MessageId]>,
        filter: &DeadLetterFilter,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>>;
}
