//! Commands in: each `SendSms` from a [`CommandSource`] becomes a herald message, or is
//! dead-lettered with the reason it cannot.
//!
//! A command is acknowledged only after its message is committed; a batch of commands is
//! stored in one transaction. A redelivered command with the same idempotency key (the
//! command's `idempotency_key`, else the envelope's `messageId`, else the transport's
//! message id) finds the key completed and creates nothing. An invalid command is
//! dead-lettered with its reason, never handled again. While the database is unavailable a
//! command stays unsettled and is retried; it is never dead-lettered for herald's own
//! trouble.

use std::{sync::Arc, time::Duration};

use herald_domain::AccountId;
use tokio_util::sync::CancellationToken;

use super::{
    idempotency::{fingerprint, IdempotentRequest},
    intake::{Accepted, Intake, IntakeError, IntakeOutcome, SmsDraft},
    send_sms::validate,
};
use crate::{
    metrics::Metrics,
    ports::{CommandDelivery, CommandSource, CommandSourceError},
};

/// The first wait before a batch that could not be stored is tried again; it doubles up
/// to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Turns `SendSms` commands into messages.
#[derive(Debug, Clone)]
pub struct Commands {
    pub intake: Intake,
    pub account: AccountId,
    /// Where the commands come from (the queue's name), in their idempotency fingerprint:
    /// the same key on another queue is another request.
    pub origin: String,
    /// Most deliveries handled (and stored) together.
    pub batch_size: usize,
    pub metrics: Arc<Metrics>,
}

/// A delivery that passed validation, waiting to be stored.
struct Pending {
    delivery: CommandDelivery,
    draft: SmsDraft,
    request: Option<IdempotentRequest>,
}

impl Commands {
    /// Handles what `source` delivers until it ends or `shutdown`; an error means the
    /// source failed (its unsettled deliveries come again once it is reopened).
    pub async fn consume(
        &self,
        source: &mut dyn CommandSource,
        shutdown: &CancellationToken,
    ) -> Result<(), CommandSourceError> {
        // Whatever has arrived goes into one batch: one commit for all of it.
        while let Some(deliveries) = source.next_batch(self.batch_size.max(1), shutdown).await? {
            self.handle_batch(deliveries, shutdown).await;
        }
        Ok(())
    }

    /// Accepts a batch of commands in one transaction and settles each: ack once committed
    /// (or replayed), dead-letter when invalid. Commands that cannot be accepted yet (the
    /// database is away, or a racing delivery of the same key is in progress) are retried
    /// here with backoff; at shutdown they are requeued.
    pub async fn handle_batch(&self, deliveries: Vec<CommandDelivery>, shutdown: &CancellationToken) {
        let mut valid = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match validate(&delivery.payload, delivery.message_id.clone()) {
                Ok(command) => {
                    let request = command.key.clone().map(|key| IdempotentRequest {
                        key,
                        fingerprint: fingerprint("AMQP", &self.origin, &command.raw),
                    });
                    valid.push(Pending { delivery, draft: command.draft, request });
                }
                Err(reason) => self.reject(delivery, &reason).await,
            }
        }
        let respond = |accepted: &Accepted| {
            let body = serde_json::json!({"id": accepted.id, "status": accepted.status});
            (202u16, body.to_string())
        };
        let mut backoff = FIRST_RETRY;
        while !valid.is_empty() {
            let items = valid.iter().map(|item| (item.draft.clone(), item.request.as_ref())).collect();
            let results: Vec<Option<_>> = match self
                .intake
                .accept_sms_batch(self.account, items, &respond)
                .await
            {
                Ok(results) => results.into_iter().map(Some).collect(),
                Err(error) => {
                    tracing::warn!(%error, commands = valid.len(), retry_in = ?backoff, "commands not stored yet; retrying");
                    valid.iter().map(|_| None).collect()
                }
            };
            let mut again = Vec::new();
            for (item, result) in valid.into_iter().zip(results) {
                let outcome = match result {
                    Some(Ok(IntakeOutcome::Accepted(_))) => "accepted",
                    Some(Ok(IntakeOutcome::Replayed { .. })) => "replayed",
                    Some(Err(IntakeError::KeyReusedWithOtherRequest)) => {
                        let reason = "the idempotency key was already used for a different command";
                        self.reject(item.delivery, reason).await;
                        continue;
                    }
                    // Not stored (the batch failed), or the same key is being accepted by a
                    // racing delivery right now: try again.
                    Some(Err(_)) | None => {
                        again.push(item);
                        continue;
                    }
                };
                self.metrics.amqp_command(outcome);
                if let Err(error) = item.delivery.ack().await {
                    // Committed but not acknowledged: the redelivery finds its key completed.
                    tracing::warn!(%error, "could not acknowledge a committed command");
                }
            }
            valid = again;
            if !valid.is_empty() {
                tokio::select! {
                    () = shutdown.cancelled() => {
                        for item in valid {
                            if let Err(error) = item.delivery.requeue().await {
                                // Unsettled, it comes again once the source closes.
                                tracing::warn!(%error, "could not requeue a command at shutdown");
                            }
                        }
                        return;
                    }
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_RETRY);
            }
        }
    }

    /// Dead-letters an invalid command with its reason.
    async fn reject(&self, delivery: CommandDelivery, reason: &str) {
        tracing::warn!(reason, "invalid command sent to the dead-letter queue");
        self.metrics.amqp_command("rejected");
        if let Err(error) = delivery.dead_letter(reason).await {
            tracing::warn!(%error, "could not settle a rejected command; it will be redelivered");
        }
    }
}
