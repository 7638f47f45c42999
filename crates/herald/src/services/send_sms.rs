//! The `SendSms` command (docs/amqp/send-sms.schema.json) and its accepted forms: herald's
//! snake_case, the PascalCase and camelCase .NET serializers write, bare or inside a
//! MassTransit envelope. [`validate`] turns a payload into a draft for intake, or into the
//! reason it is dead-lettered with.

use herald_domain::{MessageBody, PhoneNumber, SenderId};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{idempotency::IdempotencyKey, intake::SmsDraft};
use crate::model::ClientTags;

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
pub struct ValidCommand {
    /// The command in herald's spelling: what its idempotency fingerprint covers.
    pub raw: Value,
    pub draft: SmsDraft,
    pub key: Option<IdempotencyKey>,
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
/// A command without a sender gets its route's, else `sms.default_sender`, at intake.
pub fn validate(data: &[u8], message_id: Option<String>) -> Result<ValidCommand, String> {
    let parsed = parse(data)?;
    check(&parsed, message_id).map_err(|reason| format!("{}{reason}", parsed.context))
}

fn check(parsed: &Parsed, message_id: Option<String>) -> Result<ValidCommand, String> {
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
    let from = match command.sender.as_deref() {
        Some(sender) => Some(SenderId::parse(sender).map_err(|e| format!("'{}': {e}", name("sender")))?),
        None => None,
    };
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
        validate(data.as_bytes(), message_id.map(str::to_owned))
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
        assert_eq!(command.draft.from, None, "the route's or the default sender, at intake");
    }

    #[test]
    fn the_documented_example_command_is_valid() {
        let example = include_str!("../../../../docs/amqp/send-sms.example.json");
        let command =
            inlet_validate(example, None).expect("docs/amqp/send-sms.example.json is a valid SendSms");
        assert_eq!(command.key.unwrap().as_str(), "payment-8f2c1e");
        assert_eq!(command.draft.from.as_ref().map(SenderId::as_str), Some("MKOPA"));
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
