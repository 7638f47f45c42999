//! Delivery receipts: a provider's status callback, authenticated and read by its preset
//! (`providers::sms_apis`), moves a `sent` message to `delivered` or `undelivered` with a
//! timeline entry and a `notification.delivered` / `notification.undelivered` event, in one
//! transaction. Statuses on the way (queued, buffered) and repeated receipts change
//! nothing; a receipt for a message herald does not know is taken (and logged) so that the
//! provider does not send it again for ever.

use std::sync::Arc;

use chrono::Utc;

use crate::{
    config::Routing,
    metrics::Metrics,
    model::{ReceiptApplied, ReceiptKey, ReceiptUpdate},
    ports::{Store, StoreError},
    providers::sms_apis::{read_receipts, ReceiptError, ReceiptRequest},
    services::events,
};

#[derive(Clone)]
pub struct Receipts {
    store: Arc<dyn Store>,
    routing: Arc<Routing>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Receipts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipts").finish_non_exhaustive()
    }
}

/// Why a receipt request was not taken.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error(transparent)]
    Refused(#[from] ReceiptError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the receipts of one request did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Taken {
    /// Receipts that moved their message.
    pub applied: usize,
    /// Receipts that changed nothing: on the way, repeated, or for an unknown message.
    pub ignored: usize,
    /// Receipts whose message is still being sent: the provider should send them again.
    pub not_sent_yet: usize,
}

impl Receipts {
    pub fn new(store: Arc<dyn Store>, routing: Routing, metrics: Arc<Metrics>) -> Self {
        Self { store, routing: Arc::new(routing), metrics }
    }

    /// Takes the receipts of one request to `/webhooks/providers/{provider}/status`.
    pub async fn take(&self, provider: &str, request: &ReceiptRequest<'_>) -> Result<Taken, TakeError> {
        let Some(entry) = self.routing.provider(provider) else {
            return Err(ReceiptError::NotAccepted(format!("no provider is named \"{provider}\"")).into());
        };
        let receipts = read_receipts(entry, request).inspect_err(|error| {
            self.metrics.delivery_receipt(provider, "refused");
            tracing::warn!(provider, %error, "delivery receipt refused");
        })?;
        let mut taken = Taken::default();
        for receipt in receipts {
            let Some(outcome) = &receipt.outcome else {
                self.metrics.delivery_receipt(provider, "progress");
                taken.ignored += 1;
                continue;
            };
            let update = ReceiptUpdate { provider, key: &receipt.key, outcome, at: Utc::now() };
            let event =
                |message: &crate::model::Message| events::delivery_receipt(message, provider, &receipt);
            let applied = self.store.apply_receipt(&update, &event).await?;
            let key = match &receipt.key {
                ReceiptKey::Herald(id) => id.to_string(),
                ReceiptKey::Provider(id) => format!("provider id {id}"),
            };
            let label = match applied {
                ReceiptApplied::Applied => {
                    taken.applied += 1;
                    outcome.status().as_str()
                }
                ReceiptApplied::Unchanged(status) => {
                    tracing::debug!(provider, message = %key, %status, "repeated delivery receipt; nothing changes");
                    taken.ignored += 1;
                    "unchanged"
                }
                ReceiptApplied::NotSentYet => {
                    tracing::info!(provider, message = %key, "delivery receipt before the send was committed; asking for it again");
                    taken.not_sent_yet += 1;
                    "not_sent_yet"
                }
                ReceiptApplied::Unknown => {
                    tracing::warn!(provider, message = %key, status = %receipt.provider_status, "delivery receipt for a message herald does not know; taken and dropped");
                    taken.ignored += 1;
                    "unknown"
                }
            };
            self.metrics.delivery_receipt(provider, label);
        }
        Ok(taken)
    }
}
