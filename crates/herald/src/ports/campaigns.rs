//! Campaigns (the campaign brief): created, listed, counted, started, rendered, ended.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, CampaignStatus, CustomerId};

use super::StoreResult;
use crate::model::{
    Campaign, CampaignFilter, CampaignPage, CampaignStart, CampaignStats, Customer, NewCampaign, PageStart,
    RenderedMessage, StartOutcome,
};

/// Campaigns (the campaign brief). Their recipients are [`super::CustomerStore`]'s.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    async fn insert_campaign(&self, campaign: &NewCampaign) -> StoreResult<Campaign>;
    async fn get_campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>>;
    /// Campaigns matching `filter` with ids up to `snapshot` (all when `None`), newest
    /// first, from `start`; with the total in that snapshot.
    async fn list_campaigns(
        &self,
        account: AccountId,
        filter: CampaignFilter,
        snapshot: Option<CampaignId>,
        start: PageStart,
        limit: u32,
    ) -> StoreResult<CampaignPage>;
    async fn campaign_stats(&self, campaign: CampaignId) -> StoreResult<CampaignStats>;
    /// Moves the campaign from `draft`/`scheduled` to `start.status` and creates one
    /// `pending` message per recipient (body rendered later by the worker), all in one
    /// transaction; nothing changes unless the outcome is `Started`.
    async fn start_campaign(&self, start: &CampaignStart) -> StoreResult<StartOutcome>;
    /// Templates of these campaigns and these customers, for rendering.
    async fn render_inputs(
        &self,
        campaigns: &[CampaignId],
        customers: &[CustomerId],
    ) -> StoreResult<(HashMap<CampaignId, String>, HashMap<CustomerId, Customer>)>;
    /// Stores what was rendered for campaign messages: the text, its SMS segments and,
    /// where the route gives one, the sender.
    async fn save_rendered(&self, rendered: &[RenderedMessage], at: DateTime<Utc>) -> StoreResult<()>;
    /// `scheduled` campaigns whose time has come (at most `limit`): id, account, and
    /// whether their messages exist already (sent before their time).
    async fn due_campaigns(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(CampaignId, AccountId, bool)>>;
    /// Moves a campaign to `to` if its status is one of `from`; whether it moved.
    async fn set_campaign_status(
        &self,
        campaign: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends campaigns among `campaigns` whose messages are all final (and that are due):
    /// `sent`, or `failed` when every message failed. Returns how many ended.
    async fn finish_campaigns(&self, campaigns: &[CampaignId], now: DateTime<Utc>) -> StoreResult<u64>;
}
