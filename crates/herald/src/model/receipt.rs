//! Delivery receipts: what a provider reports about a message after accepting it.

use chrono::{DateTime, Utc};
use herald_domain::{MessageId, MessageStatus};

/// How a receipt names its message: by herald's id where the provider echoes the client
/// reference herald gave it, else by the provider's own message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptKey {
    Herald(MessageId),
    Provider(String),
}

/// The final word a receipt carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The handset has it.
    Delivered,
    /// The network gave up on it; `code` is the provider's error code, if it gave one.
    Undelivered { code: Option<String>, reason: String },
}

impl DeliveryOutcome {
    pub fn status(&self) -> MessageStatus {
        match self {
            Self::Delivered => MessageStatus::Delivered,
            Self::Undelivered { .. } => MessageStatus::Undelivered,
        }
    }
}

/// One message's receipt, parsed and authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    pub key: ReceiptKey,
    /// The provider's status as it wrote it (`delivered`, `DELIVERED_TO_HANDSET`, ...).
    pub provider_status: String,
    /// `None` for a status on the way (queued, buffered, sent to the operator...): nothing
    /// changes for it.
    pub outcome: Option<DeliveryOutcome>,
}

/// A final receipt for [`crate::ports::MessageStore::apply_receipt`].
#[derive(Debug, Clone)]
pub struct ReceiptUpdate<'a> {
    /// The provider the receipt came from: a message found by the provider's id must have
    /// been sent through it.
    pub provider: &'a str,
    pub key: &'a ReceiptKey,
    pub outcome: &'a DeliveryOutcome,
    pub at: DateTime<Utc>,
}

/// What a receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptApplied {
    /// The message moved from `sent` to the receipt's status, with a timeline entry and an
    /// event.
    Applied,
    /// The message is past `sent` already (a repeated receipt, or one after another): no change.
    Unchanged(MessageStatus),
    /// The message is still `pending` or `sending`: the receipt overtook herald's own
    /// commit of the send, and should come again.
    NotSentYet,
    /// No such message (for this provider).
    Unknown,
}
