//! The campaign scheduler: when a `scheduled` campaign's time comes, it starts it.
//!
//! - Sent before its time (`POST /campaigns/{id}/send` on a scheduled campaign): its
//!   messages exist and fall due by themselves; the campaign just moves to `sending`.
//! - Never sent: it goes to every customer of its account, created in one transaction
//!   exactly as a send would.
//!
//! Every worker runs the scheduler. Starting is conditional in the store (only a
//! `scheduled` campaign without messages is started, one transaction, a row lock on
//! PostgreSQL), so with several workers each campaign still starts exactly once.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use herald_domain::{CampaignStatus, MessageId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    model::{CampaignStart, StartOutcome},
    ports::{Store, StoreResult},
};

/// Campaigns started per round at most.
const BATCH: u32 = 50;

pub struct Scheduler {
    pub store: Arc<dyn Store>,
    pub sender: String,
    pub every: Duration,
    /// Wakes the dispatcher when a campaign started.
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("every", &self.every).finish_non_exhaustive()
    }
}

impl Scheduler {
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "scheduling campaigns failed; trying again");
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// Starts the campaigns that are due; returns how many this process started.
    pub async fn round(&self) -> StoreResult<usize> {
        let now = Utc::now();
        let mut started = 0;
        for (campaign_id, account_id, has_messages) in self.store.due_campaigns(now, BATCH).await? {
            if has_messages {
                let moved = self
                    .store
                    .set_campaign_status(
                        campaign_id,
                        &[CampaignStatus::Scheduled],
                        CampaignStatus::Sending,
                        now,
                    )
                    .await?;
                started += usize::from(moved);
                continue;
            }
            let customers = self.store.customer_ids(account_id).await?;
            if customers.is_empty() {
                // Nobody to send to: done as soon as it started.
                self.store
                    .set_campaign_status(campaign_id, &[CampaignStatus::Scheduled], CampaignStatus::Sent, now)
                    .await?;
                continue;
            }
            let start = CampaignStart {
                account_id,
                campaign_id,
                recipients: customers.into_iter().map(|id| (id, MessageId::new())).collect(),
                sender: self.sender.clone(),
                status: CampaignStatus::Sending,
                due_at: now,
                now,
                idempotency: None,
                claim: None,
            };
            match self.store.start_campaign(&start).await? {
                StartOutcome::Started => {
                    tracing::info!(
                        %campaign_id,
                        recipients = start.recipients.len(),
                        "scheduled campaign started"
                    );
                    started += 1;
                }
                // Another worker started it first, or it changed meanwhile.
                other => tracing::debug!(%campaign_id, ?other, "scheduled campaign not started here"),
            }
        }
        if started > 0 {
            self.wake.notify_one();
        }
        Ok(started)
    }
}
