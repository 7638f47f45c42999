//! The command inlet: `SendSms` commands from a RabbitMQ queue become herald messages.
//!
//! A command is a `SendSms` object in herald's snake_case or in the PascalCase or camelCase
//! .NET serializers write, bare or inside a MassTransit envelope (see [`parse`]).
//!
//! A command is acknowledged only after its message is committed. A redelivered command
//! with the same idempotency key (the command's `idempotency_key`, else the envelope's
//! `messageId`, else the AMQP `message_id`) finds the key completed and creates nothing. An invalid command is
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
use serde_json::{Map, Value};
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

/// Each `SendSms` field in herald's own spelling, then the other spellings accepted for it:
/// the PascalCase and camelCase .NET serializers write (the sms-microservice brief names
/// the fields `PhoneNumber` and `SmsText`).
const FIELD_SPELLINGS: [(&str, &[&str]); 7] = [
    ("phone_number", &["PhoneNumber", "phoneNumber"]),
    ("sms_text", &["SmsText", "smsText"]),
    ("idempotency_key", &["IdempotencyKey", "idempotencyKey"]),
    ("sender", &["Sender"]),
    ("reference", &["Reference"]),
    ("user_id", &["UserId", "userId"]),
    ("metadata", &["Metadata"]),
];

/// The field a MassTransit envelope always carries and a `SendSms` never does.
const ENVELOPE_MARKER: &str = "messageType";

/// A MassTransit envelope, as MassTransit publishes a message to RabbitMQ: `message` is the
/// command, `messageId` identifies it. Its other fields (addresses, headers, host) are
/// MassTransit's own and ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    message_id: Option<String>,
    message: Map<String, Value>,
}

/// The `SendSms` command (docs/amqp/send-sms.schema.json) in herald's spelling, after
/// [`canonical_fields`]. Unknown fields are ignored, so producers can add fields before
/// herald knows them.
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

/// For each field a command gave: herald's spelling and the producer's, to name the field
/// in reasons as the producer wrote it.
type Spellings = Vec<(&'static str, &'static str)>;

/// The command inside a delivery, with its fields in herald's spelling.
struct Parsed {
    command: Map<String, Value>,
    spelled: Spellings,
    /// The envelope's `messageId`, when the command came in a MassTransit envelope.
    envelope_key: Option<IdempotencyKey>,
    /// Where the command sat, for reasons: "" or "in the envelope's message: ".
    context: &'static str,
}

impl Parsed {
    fn name(&self, field: &'static str) -> &'static str {
        self.spelled.iter().find(|(canonical, _)| *canonical == field).map_or(field, |(_, used)| used)
    }
}

/// A bare `SendSms`, or the `message` of a MassTransit envelope (an object with
/// `messageType`). A delivery that is both, or gives a field in two spellings, is refused
/// rather than read one way or the other.
fn parse(data: &[u8]) -> Result<Parsed, String> {
    let raw: Value =
        serde_json::from_slice(data).map_err(|e| format!("the command is not valid JSON: {e}"))?;
    let Value::Object(object) = raw else {
        return Err("the command must be a JSON object".into());
    };
    if !object.contains_key(ENVELOPE_MARKER) {
        let (command, spelled) = canonical_fields(object)?;
        return Ok(Parsed { command, spelled, envelope_key: None, context: "" });
    }
    if let Some(name) =
        FIELD_SPELLINGS.iter().flat_map(|(field, others)| given(&object, field, others)).next()
    {
        return Err(format!(
            "the command is a MassTransit envelope ('{ENVELOPE_MARKER}') and also has '{name}' at its top \
             level; put the SendSms fields in its 'message' only"
        ));
    }
    let envelope: Envelope = serde_json::from_value(Value::Object(object))
        .map_err(|e| format!("the command is not a MassTransit envelope of a SendSms: {e}"))?;
    let envelope_key = envelope
        .message_id
        .map(|id| IdempotencyKey::parse(&id).map_err(|e| format!("the envelope's 'messageId': {e}")))
        .transpose()?;
    let context = "in the envelope's message: ";
    let (command, spelled) =
        canonical_fields(envelope.message).map_err(|reason| format!("{context}{reason}"))?;
    Ok(Parsed { command, spelled, envelope_key, context })
}

/// The spellings of one field that `object` gives a value (null counts as not given).
fn given<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
    others: &'static [&'static str],
) -> impl Iterator<Item = &'static str> + 'a {
    std::iter::once(field)
        .chain(others.iter().copied())
        .filter(|name| object.get(*name).is_some_and(|value| !value.is_null()))
}

/// The command with every field renamed to herald's spelling, and the spellings used. A
/// field given in two spellings is an error: which one the producer meant is not for herald
/// to guess.
fn canonical_fields(mut object: Map<String, Value>) -> Result<(Map<String, Value>, Spellings), String> {
    let mut spelled = Vec::new();
    for (field, others) in FIELD_SPELLINGS {
        let names: Vec<&'static str> = given(&object, field, others).collect();
        match names.as_slice() {
            [] => {}
            [name] => {
                let value = object.remove(*name).unwrap_or_default();
                object.insert(field.to_owned(), value);
                spelled.push((field, *name));
            }
            names => {
                let names = names.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(" and ");
                return Err(format!(
                    "the command gives '{field}' more than once ({names}); give one of them"
                ));
            }
        }
    }
    // The first two fields are the required ones.
    for (field, others) in &FIELD_SPELLINGS[..2] {
        if !spelled.iter().any(|(given, _)| given == field) {
            let others = others.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(" or ");
            return Err(format!("the command is not a SendSms: it has no '{field}' (nor {others})"));
        }
    }
    Ok((object, spelled))
}

/// Parses and checks a command; the error is the reason given in the dead-letter queue.
fn validate(data: &[u8], message_id: Option<String>, default_sender: &str) -> Result<ValidCommand, String> {
    let parsed = parse(data)?;
    check(&parsed, message_id, default_sender).map_err(|reason| format!("{}{reason}", parsed.context))
}

fn check(parsed: &Parsed, message_id: Option<String>, default_sender: &str) -> Result<ValidCommand, String> {
    // The fingerprint covers the command in herald's spelling: the same command in another
    // spelling or in an envelope is the same request.
    let raw = Value::Object(parsed.command.clone());
    let command: SendSms =
        serde_json::from_value(raw.clone()).map_err(|e| format!("the command is not a SendSms: {e}"))?;
    let name = |field| parsed.name(field);
    let to = match &command.phone_number {
        Value::String(s) => PhoneNumber::parse(s).ok(),
        Value::Number(n) => n.as_u64().and_then(|n| PhoneNumber::from_number(n).ok()),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "'{}' must be a phone number in international format, e.g. +254712345678",
            name("phone_number")
        )
    })?;
    let body = MessageBody::parse(&command.sms_text).map_err(|e| format!("'{}' {e}", name("sms_text")))?;
    let sender = command.sender.as_deref().unwrap_or(default_sender);
    let from = SenderId::parse(sender).map_err(|e| format!("'{}': {e}", name("sender")))?;
    if command.reference.as_ref().is_some_and(|r| r.chars().count() > MAX_REFERENCE_CHARS) {
        return Err(format!("'{}' must be at most {MAX_REFERENCE_CHARS} characters", name("reference")));
    }
    if let Some(metadata) = &command.metadata {
        if !metadata.is_object() || metadata.to_string().len() > MAX_METADATA_BYTES {
            let field = name("metadata");
            return Err(format!("'{field}' must be a JSON object of at most {MAX_METADATA_BYTES} bytes"));
        }
    }
    let key = match command.idempotency_key.as_deref() {
        Some(key) => {
            Some(IdempotencyKey::parse(key).map_err(|e| format!("'{}': {e}", name("idempotency_key")))?)
        }
        // A message id that is no valid key is not an error: the command just has no key.
        None => {
            parsed.envelope_key.clone().or_else(|| message_id.and_then(|id| IdempotencyKey::parse(&id).ok()))
        }
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
    fn the_documented_dotnet_and_masstransit_examples_are_valid() {
        let dotnet = include_str!("../../../../docs/amqp/send-sms.dotnet.example.json");
        let command = inlet_validate(dotnet, None).expect("docs/amqp/send-sms.dotnet.example.json is valid");
        assert_eq!(command.key.unwrap().as_str(), "payment-8f2c1e");
        let envelope = include_str!("../../../../docs/amqp/send-sms.masstransit.example.json");
        let command =
            inlet_validate(envelope, None).expect("docs/amqp/send-sms.masstransit.example.json is valid");
        assert_eq!(command.key.unwrap().as_str(), "0a5b0000-5d0b-0015-9d4d-08dc1a2b3c4d");
        assert_eq!(command.draft.user_id.as_deref(), Some("customer-1042"));
    }

    #[test]
    fn the_message_id_is_the_key_when_the_command_has_none() {
        let command =
            inlet_validate(r#"{"phone_number":254712345678,"sms_text":"hi"}"#, Some("m-1")).unwrap();
        assert_eq!(command.key.unwrap().as_str(), "m-1");
        assert_eq!(command.draft.to.as_str(), "+254712345678");
    }

    #[test]
    fn dotnet_spellings_are_the_same_command_as_herald_s_own() {
        let snake = inlet_validate(
            r#"{"phone_number":"+254712345678","sms_text":"hi","idempotency_key":"k-1","user_id":"u1"}"#,
            None,
        )
        .unwrap();
        for dotnet in [
            r#"{"PhoneNumber":"+254712345678","SmsText":"hi","IdempotencyKey":"k-1","UserId":"u1"}"#,
            r#"{"phoneNumber":"+254712345678","smsText":"hi","idempotencyKey":"k-1","userId":"u1"}"#,
            r#"{"messageId":"m-9","messageType":["urn:message:Sms:SendSms"],
                "message":{"phoneNumber":"+254712345678","smsText":"hi","idempotencyKey":"k-1","userId":"u1"}}"#,
        ] {
            let command = inlet_validate(dotnet, Some("amqp-id")).unwrap();
            assert_eq!(command.draft.to, snake.draft.to, "{dotnet}");
            assert_eq!(command.draft.body.as_str(), "hi", "{dotnet}");
            assert_eq!(command.draft.user_id.as_deref(), Some("u1"), "{dotnet}");
            assert_eq!(command.key.as_ref().unwrap().as_str(), "k-1", "{dotnet}");
            assert_eq!(command.raw, snake.raw, "same fingerprint input: {dotnet}");
        }
    }

    #[test]
    fn an_envelope_s_message_id_is_the_key_when_its_message_has_none() {
        let envelope = r#"{"messageId":"0a5b0000-5d0b-0015-9d4d-08dc1a2b3c4d","messageType":["urn:message:Sms:SendSms"],
            "sourceAddress":"rabbitmq://localhost/app","message":{"PhoneNumber":"+254712345678","SmsText":"hi"}}"#;
        let command = inlet_validate(envelope, Some("amqp-id")).unwrap();
        assert_eq!(command.key.unwrap().as_str(), "0a5b0000-5d0b-0015-9d4d-08dc1a2b3c4d");
        let without_id = r#"{"messageType":["urn:message:Sms:SendSms"],"message":{"PhoneNumber":"+254712345678","SmsText":"hi"}}"#;
        let command = inlet_validate(without_id, Some("amqp-id")).unwrap();
        assert_eq!(command.key.unwrap().as_str(), "amqp-id", "then the AMQP message_id");
    }

    #[test]
    fn nulls_count_as_not_given() {
        let command = inlet_validate(
            r#"{"phoneNumber":"+254712345678","phone_number":null,"smsText":"hi","idempotencyKey":null,"metadata":null}"#,
            Some("m-1"),
        )
        .unwrap();
        assert_eq!(command.key.unwrap().as_str(), "m-1");
    }

    #[test]
    fn ambiguous_and_broken_dotnet_commands_say_why() {
        let cases = [
            (
                r#"{"phone_number":"+254712345678","PhoneNumber":"+254700000000","sms_text":"hi"}"#,
                "the command gives 'phone_number' more than once ('phone_number' and 'PhoneNumber')",
            ),
            (r#"{"SmsText":"hi","smsText":"hi","PhoneNumber":"+254712345678"}"#, "'SmsText' and 'smsText'"),
            (r#"{"PhoneNumber":"12","SmsText":"hi"}"#, "'PhoneNumber' must be a phone number"),
            (r#"{"phoneNumber":"+254712345678","smsText":""}"#, "'smsText'"),
            (r#"{"SmsText":"hi"}"#, "it has no 'phone_number' (nor 'PhoneNumber' or 'phoneNumber')"),
            (r#"{"messageType":["urn:message:Sms:SendSms"]}"#, "not a MassTransit envelope of a SendSms"),
            (r#"{"messageType":["urn:message:Sms:SendSms"],"message":"hi"}"#, "not a MassTransit envelope"),
            (
                r#"{"messageType":[],"message":{"PhoneNumber":"+254712345678","SmsText":"hi"},"PhoneNumber":"+254700000000"}"#,
                "also has 'PhoneNumber' at its top level",
            ),
            (
                r#"{"messageType":[],"message":{"PhoneNumber":"+254712345678","SmsText":""}}"#,
                "in the envelope's message: 'SmsText'",
            ),
            (
                r#"{"messageType":[],"message":{"PhoneNumber":"+254712345678","phone_number":"+254712345678","SmsText":"hi"}}"#,
                "in the envelope's message: the command gives 'phone_number' more than once",
            ),
            (
                r#"{"messageType":[],"messageId":"","message":{"PhoneNumber":"+254712345678","SmsText":"hi"}}"#,
                "the envelope's 'messageId'",
            ),
        ];
        for (input, expected) in cases {
            let reason = inlet_validate(input, None).unwrap_err();
            assert!(reason.contains(expected), "{input}: {reason}");
        }
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
