//! The command inlet: `SendSms` commands from a RabbitMQ queue become herald messages.
//!
//! A command is acknowledged only after its message is committed. A redelivered command
//! with the same idempotency key (the command's `idempotency_key`, else the AMQP
//! `message_id`) finds the key completed and creates nothing. An invalid command is
//! published to the dead-letter queue with the reason in the `x-herald-rejection` header,
//! then acknowledged: it never loops. While the database is unavailable a command stays
//! unacknowledged and is retried; it is never dead-lettered for herald's own trouble.

use std::{sync::Arc, time::Duration};

use herald_domain::{AccountId, MessageBody, PhoneNumber, SenderId};
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
    Channel,
};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{connect, connected, next_batch, supervise, BrokerStatus, Topology, REJECTION_HEADER};
use crate::{
    metrics::Metrics,
    model::ClientTags,
    services::{
        idempotency::{fingerprint, IdempotencyKey, IdempotentRequest},
        intake::{Accepted, Intake, IntakeError, IntakeOutcome, SmsDraft},
    },
};

const COMPONENT: &str = "inlet";

/// Longest `reference` a command may carry.
const MAX_REFERENCE_CHARS: usize = 256;
/// Largest `metadata` a command may carry, serialized.
const MAX_METADATA_BYTES: usize = 8 * 1024;

/// The `SendSms` command (docs/amqp/send-sms.schema.json). Unknown fields are ignored, so
/// producers can add fields before herald knows them.
#[derive(Debug, Deserialize)]
struct SendSms {
    phone_number: Value,
    sms_text: String,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// A command ready for intake.
#[derive(Debug)]
struct ValidCommand {
    raw: Value,
    draft: SmsDraft,
    key: Option<IdempotencyKey>,
}

#[derive(Debug)]
pub struct Inlet {
    pub url: String,
    pub topology: Topology,
    pub intake: Intake,
    pub account: AccountId,
    pub default_sender: String,
    pub metrics: Arc<Metrics>,
    pub status: Arc<BrokerStatus>,
}

impl Inlet {
    /// Consumes commands until `shutdown`, reconnecting whenever the broker goes away.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let max_backoff = Duration::from_millis(this.topology.config().reconnect_max_ms);
        supervise(
            COMPONENT,
            this.status.clone(),
            this.metrics.clone(),
            max_backoff,
            shutdown.clone(),
            || {
                let (this, shutdown) = (this.clone(), shutdown.clone());
                async move { this.session(&shutdown).await }
            },
        )
        .await;
    }

    /// One connection's life: declare, consume, and on shutdown stop consuming and let the
    /// commands in hand finish.
    async fn session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let config = self.topology.config();
        let connection = connect(&self.url, &format!("herald inlet {}", config.command_queue)).await?;
        let channel = connection.create_channel().await?;
        self.topology.declare_commands(&channel).await?;
        channel.basic_qos(config.prefetch, BasicQosOptions::default()).await?;
        let dead_letters = connection.create_channel().await?;
        dead_letters.confirm_select(ConfirmSelectOptions::default()).await?;
        let tag = format!("herald-inlet-{}", uuid::Uuid::now_v7().simple());
        let consumer = channel
            .basic_consume(&config.command_queue, &tag, BasicConsumeOptions::default(), FieldTable::default())
            .await?;
        connected(COMPONENT, &self.status, &self.metrics);
        let mut consumer = consumer;
        // Whatever has arrived goes into one batch: one commit for all of it.
        while let Some(deliveries) = next_batch(&mut consumer, usize::from(config.prefetch), shutdown).await?
        {
            self.handle_batch(deliveries, &dead_letters, shutdown).await;
        }
        // Stop deliveries; prefetched ones not taken go back to the queue with the channel.
        let _ = channel.basic_cancel(&tag, BasicCancelOptions::default()).await;
        let _ = connection.close(200, "herald is shutting down").await;
        Ok(())
    }

    /// Accepts a batch of commands in one transaction and settles each: ack once committed
    /// (or replayed), dead-letter when invalid. Commands that cannot be accepted yet (the
    /// database is away, or a racing delivery of the same key is in progress) are retried
    /// here with backoff; at shutdown they are left unacknowledged for redelivery.
    async fn handle_batch(
        &self,
        deliveries: Vec<Delivery>,
        dead_letters: &Channel,
        shutdown: &CancellationToken,
    ) {
        let queue = &self.topology.config().command_queue;
        let mut valid = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let message_id = delivery.properties.message_id().as_ref().map(|id| id.as_str().to_owned());
            match validate(&delivery.data, message_id, &self.default_sender) {
                Ok(command) => {
                    let request = command.key.clone().map(|key| IdempotentRequest {
                        key,
                        fingerprint: fingerprint("AMQP", queue, &command.raw),
                    });
                    valid.push((delivery, command.draft, request));
                }
                Err(reason) => self.reject(delivery, dead_letters, &reason).await,
            }
        }
        let respond = |accepted: &Accepted| {
            let body = serde_json::json!({"id": accepted.id, "status": accepted.status});
            (202u16, body.to_string())
        };
        let mut backoff = Duration::from_millis(50);
        while !valid.is_empty() {
            let items = valid.iter().map(|(_, draft, request)| (draft.clone(), request.as_ref())).collect();
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
                        self.reject(item.0, dead_letters, reason).await;
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
                if let Err(error) = item.0.ack(BasicAckOptions::default()).await {
                    // Committed but not acknowledged: the redelivery finds its key completed.
                    tracing::warn!(%error, "could not acknowledge a committed command");
                }
            }
            valid = again;
            if !valid.is_empty() {
                tokio::select! {
                    // Unacknowledged, they are redelivered once this connection closes.
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }

    /// Sends an invalid command to the dead-letter queue with its reason, then acknowledges
    /// it. If that publish is not confirmed, the command is rejected without requeue and
    /// the queue's own dead-lettering takes it (without the reason header).
    async fn reject(&self, delivery: Delivery, dead_letters: &Channel, reason: &str) {
        tracing::warn!(reason, "invalid command sent to the dead-letter queue");
        self.metrics.amqp_command("rejected");
        let config = self.topology.config();
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ShortString::from(REJECTION_HEADER), AMQPValue::LongString(LongString::from(reason)));
        let properties = delivery.properties.clone().with_headers(headers);
        let published = async {
            dead_letters
                .basic_publish(
                    &config.dead_letter_exchange,
                    &config.command_dead_letter_queue,
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    &delivery.data,
                    properties,
                )
                .await?
                .await
        };
        // Acknowledged and not returned as unroutable.
        let confirmed = match published.await {
            Ok(confirmation) => confirmation.is_ack() && confirmation.take_message().is_none(),
            Err(_) => false,
        };
        let settled = if confirmed {
            delivery.ack(BasicAckOptions::default()).await
        } else {
            delivery.nack(BasicNackOptions { requeue: false, ..BasicNackOptions::default() }).await
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "could not settle a rejected command; it will be redelivered");
        }
    }
}

/// Parses and checks a command; the error is the reason given in the dead-letter queue.
fn validate(data: &[u8], message_id: Option<String>, default_sender: &str) -> Result<ValidCommand, String> {
    let raw: Value =
        serde_json::from_slice(data).map_err(|e| format!("the command is not valid JSON: {e}"))?;
    if !raw.is_object() {
        return Err("the command must be a JSON object".into());
    }
    let command: SendSms =
        serde_json::from_value(raw.clone()).map_err(|e| format!("the command is not a SendSms: {e}"))?;
    let to = match &command.phone_number {
        Value::String(s) => PhoneNumber::parse(s).ok(),
        Value::Number(n) => n.as_u64().and_then(|n| PhoneNumber::from_number(n).ok()),
        _ => None,
    }
    .ok_or("'phone_number' must be a phone number in international format, e.g. +254712345678")?;
    let body = MessageBody::parse(&command.sms_text).map_err(|e| format!("'sms_text' {e}"))?;
    let sender = command.sender.as_deref().unwrap_or(default_sender);
    let from = SenderId::parse(sender).map_err(|e| format!("'sender': {e}"))?;
    if command.reference.as_ref().is_some_and(|r| r.chars().count() > MAX_REFERENCE_CHARS) {
        return Err(format!("'reference' must be at most {MAX_REFERENCE_CHARS} characters"));
    }
    if let Some(metadata) = &command.metadata {
        if !metadata.is_object() || metadata.to_string().len() > MAX_METADATA_BYTES {
            return Err(format!("'metadata' must be a JSON object of at most {MAX_METADATA_BYTES} bytes"));
        }
    }
    let key = match command.idempotency_key.as_deref() {
        Some(key) => Some(IdempotencyKey::parse(key).map_err(|e| format!("'idempotency_key': {e}"))?),
        // A message id that is no valid key is not an error: the command just has no key.
        None => message_id.and_then(|id| IdempotencyKey::parse(&id).ok()),
    };
    let draft = SmsDraft {
        to,
        from,
        body,
        user_id: command.user_id,
        tags: ClientTags { reference: command.reference, idempotency_key: None, metadata: command.metadata },
    };
    Ok(ValidCommand { raw, draft, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inlet_validate(data: &str, message_id: Option<&str>) -> Result<ValidCommand, String> {
        validate(data.as_bytes(), message_id.map(str::to_owned), "herald")
    }

    #[test]
    fn a_valid_command_becomes_a_draft_with_its_tags() {
        let command = inlet_validate(
            r#"{"phone_number":"+254712345678","sms_text":"hi","idempotency_key":"k-1","reference":"order-9",
                "user_id":"u1","metadata":{"a":1},"future_field":true}"#,
            Some("m-1"),
        )
        .unwrap();
        assert_eq!(command.key.unwrap().as_str(), "k-1", "the command's key wins over message_id");
        assert_eq!(command.draft.tags.reference.as_deref(), Some("order-9"));
        assert_eq!(command.draft.user_id.as_deref(), Some("u1"));
        assert_eq!(command.draft.from.as_str(), "herald");
    }

    #[test]
    fn the_documented_example_command_is_valid() {
        let example = include_str!("../../../../docs/amqp/send-sms.example.json");
        let command =
            inlet_validate(example, None).expect("docs/amqp/send-sms.example.json is a valid SendSms");
        assert_eq!(command.key.unwrap().as_str(), "payment-8f2c1e");
        assert_eq!(command.draft.from.as_str(), "MKOPA");
    }

    #[test]
    fn the_message_id_is_the_key_when_the_command_has_none() {
        let command =
            inlet_validate(r#"{"phone_number":254712345678,"sms_text":"hi"}"#, Some("m-1")).unwrap();
        assert_eq!(command.key.unwrap().as_str(), "m-1");
        assert_eq!(command.draft.to.as_str(), "+254712345678");
    }

    #[test]
    fn invalid_commands_say_why() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1]", "JSON object"),
            (r#"{"sms_text":"hi"}"#, "phone_number"),
            (r#"{"phone_number":"12","sms_text":"hi"}"#, "'phone_number'"),
            (r#"{"phone_number":"+254712345678","sms_text":""}"#, "'sms_text'"),
            (r#"{"phone_number":"+254712345678","sms_text":"hi","metadata":[1]}"#, "'metadata'"),
            (r#"{"phone_number":"+254712345678","sms_text":"hi","idempotency_key":""}"#, "'idempotency_key'"),
        ];
        for (input, expected) in cases {
            let reason = inlet_validate(input, None).unwrap_err();
            assert!(reason.contains(expected), "{input}: {reason}");
        }
    }
}
