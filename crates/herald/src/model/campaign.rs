//! Campaigns: what is created, listed, counted and started.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, Channel, CustomerId, MessageId};

use super::{IdempotencyClaim, IdempotentResponse, KeyClaim};

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
    pub id: CampaignId,
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
    Below(CampaignId),
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
    pub snapshot: CampaignId,
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
    pub campaign_id: CampaignId,
    /// Distinct customer ids, each with the id of the message it gets.
    pub recipients: Vec<(CustomerId, MessageId)>,
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
    UnknownCustomers(Vec<CustomerId>),
    /// The idempotency key is another request's (done, or still running elsewhere):
    /// nothing was done; what the key holds.
    KeyTaken(IdempotencyClaim),
}

/// A campaign message once rendered: its text with its SMS segments, and the sender its
/// route gives it (`None` keeps the one it was created with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    pub id: herald_domain::MessageId,
    pub body: String,
    pub sender: Option<String>,
    pub segments: Option<u32>,
}
