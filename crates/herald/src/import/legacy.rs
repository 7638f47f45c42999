//! The rules that turn the monolith's rows into herald's (ADR 0023), as pure functions: a
//! template's name, channel and variables; a log's channel, status and history row; the
//! checksums that tell a changed legacy row, and the lines `--verify` hashes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_domain::{Channel, MessageId, MessageStatus};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    model::{HistoryRow, LogImport, TemplateContent, TemplateUse, TemplateVariable, User},
    services::templates::{TemplateInput, MAX_NAME_CHARS},
};

/// A row of `notifications_notificationtemplate`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyTemplate {
    pub id: i64,
    pub name: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// The `type` column.
    pub kind: Option<String>,
    pub variables: Option<Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A row of `notifications_notificationlog`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyLog {
    pub id: i64,
    pub user_id: Option<i64>,
    pub template_id: Option<i64>,
    /// The `type` column.
    pub kind: Option<String>,
    pub status: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub metadata: Option<Value>,
}

/// The channel a legacy `type` names: herald's four, in any case.
pub fn channel(kind: Option<&str>) -> Option<Channel> {
    kind?.trim().to_ascii_lowercase().parse().ok()
}

/// A legacy status as a terminal herald status, with the `last_error` it leaves. The
/// monolith's log was written after its send, so its statuses are final but for the
/// unknown and in-between ones (`pending`, `queued`...): those become `failed` with
/// "legacy status ..." and are imported again if the monolith later settles them.
pub fn status(legacy: Option<&str>) -> (MessageStatus, Option<String>) {
    let Some(legacy) = legacy else {
        return (MessageStatus::Failed, Some("legacy status missing".to_owned()));
    };
    let said = || Some(format!("legacy status {:?}", legacy.trim()));
    match legacy.trim().to_ascii_lowercase().as_str() {
        "sent" | "success" | "succeeded" => (MessageStatus::Sent, None),
        "delivered" | "read" | "opened" | "clicked" => (MessageStatus::Delivered, None),
        "undelivered" | "bounced" => (MessageStatus::Undelivered, said()),
        "cancelled" | "canceled" => (MessageStatus::Cancelled, said()),
        "suppressed" | "opted_out" | "unsubscribed" => (MessageStatus::Suppressed, said()),
        _ => (MessageStatus::Failed, said()),
    }
}

/// The variables a legacy `variables` document declares, in any of the shapes the
/// monolith stored: a list of names, a list of objects with a `name` (and maybe
/// `required`), or an object whose keys are the names. Legacy rendering left a missing
/// variable's placeholder as it was, so a variable is required only if the document says so.
pub fn variables(json: Option<&Value>) -> Result<Vec<TemplateVariable>, String> {
    let optional = |name: &str| TemplateVariable { name: name.to_owned(), required: false };
    match json {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map.keys().map(|name| optional(name)).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(name) => Ok(optional(name)),
                Value::Object(object) => match object.get("name") {
                    Some(Value::String(name)) => Ok(TemplateVariable {
                        name: name.clone(),
                        required: object.get("required").and_then(Value::as_bool).unwrap_or(false),
                    }),
                    _ => Err(format!("variables[{index}] is an object without a \"name\"")),
                },
                _ => Err(format!("variables[{index}] is neither a name nor an object with a \"name\"")),
            })
            .collect(),
        Some(_) => Err("variables is neither a list nor an object".to_owned()),
    }
}

/// The name a legacy template gets in herald: its own, trimmed, or `legacy-<id>` when it
/// has none.
pub fn template_name(template: &LegacyTemplate) -> String {
    let name = template.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        format!("legacy-{}", template.id)
    } else {
        name.chars().take(MAX_NAME_CHARS).collect()
    }
}

/// The name a legacy template gets when its own is taken (a repeated legacy name, or a
/// template made in herald): `<name>-legacy-<id>`, shortened to fit.
pub fn renamed(name: &str, id: i64) -> String {
    let suffix = format!("-legacy-{id}");
    let keep = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    format!("{}{suffix}", name.chars().take(keep).collect::<String>())
}

/// The herald template a legacy one becomes under `name`, every rule of
/// [`TemplateInput::parse`] checked; the error says why it cannot be one. An SMS or WhatsApp
/// template's subject, which the monolith kept and never sent, is dropped.
pub fn template_content(template: &LegacyTemplate, name: &str) -> Result<TemplateContent, String> {
    let channel = channel(template.kind.as_deref()).ok_or_else(|| {
        format!("type {:?} is not email, sms, push or whatsapp", template.kind.as_deref().unwrap_or_default())
    })?;
    let subject = template.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let subject = match channel {
        Channel::Sms | Channel::Whatsapp => None,
        Channel::Email | Channel::Push => subject.map(str::to_owned),
    };
    TemplateInput {
        name: name.to_owned(),
        channel: channel.as_str().to_owned(),
        subject,
        body: template.body.clone().unwrap_or_default(),
        html: None,
        variables: variables(template.variables.as_ref())?,
        category: None,
        transactional: false,
    }
    .parse()
    .map_err(|error| error.to_string())
}

fn checksum(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

fn text(value: Option<&str>) -> &str {
    value.unwrap_or("\u{0}null")
}

fn json_text(value: Option<&Value>) -> String {
    value.map_or_else(|| "\u{0}null".to_owned(), Value::to_string)
}

/// Of what a legacy template says (not its times): a new checksum makes a new version.
pub fn template_checksum(template: &LegacyTemplate) -> String {
    checksum(&[
        text(template.name.as_deref()),
        text(template.subject.as_deref()),
        text(template.body.as_deref()),
        text(template.kind.as_deref()),
        &json_text(template.variables.as_ref()),
    ])
}

/// Of everything a legacy log says.
pub fn log_checksum(log: &LegacyLog) -> String {
    let number = |n: Option<i64>| n.map_or_else(|| "\u{0}null".to_owned(), |n| n.to_string());
    let sent_at = log.sent_at.map_or_else(|| "\u{0}null".to_owned(), |at| at.timestamp_micros().to_string());
    checksum(&[
        &number(log.user_id),
        &number(log.template_id),
        text(log.kind.as_deref()),
        text(log.status.as_deref()),
        &sent_at,
        &json_text(log.metadata.as_ref()),
    ])
}

/// A log's channel: its own `type`, else its template's; the error says why it has none.
pub fn log_channel(
    log: &LegacyLog,
    template_channels: &HashMap<i64, Option<Channel>>,
) -> Result<Channel, String> {
    if let Some(channel) = channel(log.kind.as_deref()) {
        return Ok(channel);
    }
    let by_template = log.template_id.and_then(|id| template_channels.get(&id).copied().flatten());
    by_template.ok_or_else(|| {
        format!(
            "type {:?} is not email, sms, push or whatsapp, and no template gives one",
            log.kind.as_deref().unwrap_or_default()
        )
    })
}

/// The address herald's directory has for the user on `channel`, or empty: the legacy log
/// never kept one.
pub fn address(user: Option<&User>, channel: Channel) -> String {
    let Some(profile) = user.map(|user| &user.profile) else {
        return String::new();
    };
    let address = match channel {
        Channel::Email => profile.email.as_ref().map(|e| e.as_str().to_owned()),
        Channel::Sms | Channel::Whatsapp => profile.phone.as_ref().map(|p| p.as_str().to_owned()),
        Channel::Push => profile.push_tokens.first().map(|t| t.as_str().to_owned()),
    };
    address.unwrap_or_default()
}

/// What the import needs besides the log itself.
#[derive(Debug, Default)]
pub struct LogContext {
    /// Legacy template id to its channel (for a log without a usable `type`).
    pub template_channels: HashMap<i64, Option<Channel>>,
    /// Legacy template id to the herald template (current version) it became.
    pub templates: HashMap<i64, TemplateUse>,
    /// The batch's users in herald's directory, by user id.
    pub users: HashMap<String, User>,
}

/// A legacy log as a history row. `created_at` is the log's `sent_at`, or for a log
/// without one the time the caller found for it (the closest earlier log's).
pub fn log_import(log: &LegacyLog, context: &LogContext, created_at: DateTime<Utc>) -> LogImport {
    let row = log_channel(log, &context.template_channels).map(|channel| {
        let user_id = log.user_id.map(|id| id.to_string());
        let (status, last_error) = status(log.status.as_deref());
        HistoryRow {
            id: MessageId::new(),
            channel,
            recipient: address(user_id.as_ref().and_then(|id| context.users.get(id)), channel),
            user_id,
            status,
            last_error,
            template: log.template_id.and_then(|id| context.templates.get(&id).copied()),
            metadata: log.metadata.clone(),
            created_at: log.sent_at.unwrap_or(created_at),
            sent_at: log.sent_at,
        }
    });
    LogImport { legacy_id: log.id, checksum: log_checksum(log), row }
}

/// The line `--verify` hashes for one log: its id, status, channel and user, as herald
/// holds them (or should). `status` is `*` for a dual-written log (herald's own outcome).
pub fn verify_line(id: i64, status: &str, channel: Channel, user_id: Option<&str>) -> String {
    format!("{id}|{status}|{channel}|{}\n", user_id.unwrap_or_default())
}

/// [`verify_line`] of a log herald should hold: what the import makes of it.
pub fn expected_line(
    log: &LegacyLog,
    template_channels: &HashMap<i64, Option<Channel>>,
    dual_written: bool,
) -> String {
    match log_channel(log, template_channels) {
        Ok(channel) => {
            let status = if dual_written { "*" } else { status(log.status.as_deref()).0.as_str() };
            verify_line(log.id, status, channel, log.user_id.map(|id| id.to_string()).as_deref())
        }
        Err(_) => format!("{}|skipped\n", log.id),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(kind: &str, subject: Option<&str>, body: &str, variables: Option<Value>) -> LegacyTemplate {
        LegacyTemplate {
            id: 7,
            name: Some("welcome".into()),
            subject: subject.map(Into::into),
            body: Some(body.into()),
            kind: Some(kind.into()),
            variables,
            created_at: None,
            updated_at: None,
        }
    }

    fn log(kind: Option<&str>, status: Option<&str>) -> LegacyLog {
        LegacyLog {
            id: 42,
            user_id: Some(12345),
            template_id: Some(7),
            kind: kind.map(Into::into),
            status: status.map(Into::into),
            sent_at: Some("2024-03-05T10:00:00Z".parse().unwrap()),
            metadata: Some(json!({"amount": "10"})),
        }
    }

    #[test]
    fn every_shape_of_legacy_variables_is_read() {
        let names =
            |json: Value| variables(Some(&json)).unwrap().into_iter().map(|v| v.name).collect::<Vec<_>>();
        assert_eq!(names(json!(["a", "b"])), ["a", "b"]);
        assert_eq!(names(json!([{"name": "a"}, {"name": "b", "type": "str"}])), ["a", "b"]);
        assert_eq!(names(json!({"b": "str", "a": null})), ["a", "b"]);
        assert!(variables(Some(&json!([{"name": "a", "required": true}]))).unwrap()[0].required);
        assert!(variables(None).unwrap().is_empty());
        assert!(variables(Some(&Value::Null)).unwrap().is_empty());
        assert!(variables(Some(&json!("a, b"))).is_err());
        assert!(variables(Some(&json!([1]))).is_err());
        assert!(variables(Some(&json!([{"label": "a"}]))).is_err());
    }

    #[test]
    fn a_legacy_template_becomes_a_herald_template_or_says_why_not() {
        let email = template("Email", Some("Hi {name}"), "Paid {amount}", Some(json!(["name", "amount"])));
        let content = template_content(&email, "welcome").unwrap();
        assert_eq!((content.channel, content.subject.as_deref()), (Channel::Email, Some("Hi {name}")));
        assert_eq!(content.variables.len(), 2);

        let sms = template("sms", Some("ignored"), "Code {code}", None);
        let content = template_content(&sms, "welcome").unwrap();
        assert_eq!((content.channel, content.subject), (Channel::Sms, None), "an SMS keeps no subject");
        assert_eq!(content.variables[0].name, "code", "placeholders are declared");

        let no_subject = template("email", None, "Paid", None);
        assert!(template_content(&no_subject, "welcome").unwrap_err().contains("subject"));
        let fax = template("fax", None, "Paid", None);
        assert!(template_content(&fax, "welcome").unwrap_err().contains("\"fax\""));
        let broken = template("sms", None, "Paid {amount", None);
        assert!(template_content(&broken, "welcome").unwrap_err().contains("body"));
    }

    #[test]
    fn names_are_kept_or_made_unique_by_the_legacy_id() {
        let mut unnamed = template("sms", None, "x", None);
        unnamed.name = Some("  ".into());
        assert_eq!(template_name(&unnamed), "legacy-7");
        assert_eq!(renamed("welcome", 7), "welcome-legacy-7");
        let long = "n".repeat(100);
        let name = renamed(&long, 123);
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with("-legacy-123"));
    }

    #[test]
    fn statuses_map_to_terminal_ones() {
        assert_eq!(status(Some("sent")), (MessageStatus::Sent, None));
        assert_eq!(status(Some("DELIVERED")), (MessageStatus::Delivered, None));
        assert_eq!(status(Some("failed")), (MessageStatus::Failed, Some("legacy status \"failed\"".into())));
        assert_eq!(status(Some("pending")).0, MessageStatus::Failed);
        assert_eq!(status(Some("bounced")).0, MessageStatus::Undelivered);
        assert_eq!(status(None), (MessageStatus::Failed, Some("legacy status missing".into())));
        for legacy in ["sent", "delivered", "failed", "queued", "bounced", "cancelled", "opted_out", "??"] {
            assert!(status(Some(legacy)).0.is_terminal(), "{legacy}");
        }
    }

    #[test]
    fn a_log_takes_its_templates_channel_when_its_type_is_unusable() {
        let channels = HashMap::from([(7, Some(Channel::Push))]);
        assert_eq!(log_channel(&log(Some("SMS"), None), &channels), Ok(Channel::Sms));
        assert_eq!(log_channel(&log(None, None), &channels), Ok(Channel::Push));
        assert!(log_channel(&log(Some("fax"), None), &HashMap::new()).is_err());
    }

    #[test]
    fn a_log_becomes_a_terminal_history_row() {
        let context = LogContext {
            template_channels: HashMap::new(),
            templates: HashMap::from([(7, TemplateUse { id: herald_domain::TemplateId::new(), version: 2 })]),
            users: HashMap::new(),
        };
        let fallback = "2020-01-01T00:00:00Z".parse().unwrap();
        let import = log_import(&log(Some("sms"), Some("sent")), &context, fallback);
        let row = import.row.unwrap();
        assert_eq!(import.legacy_id, 42);
        assert_eq!(
            (row.status, row.channel, row.user_id.as_deref()),
            (MessageStatus::Sent, Channel::Sms, Some("12345"))
        );
        assert_eq!(row.template.unwrap().version, 2);
        assert_eq!(row.created_at, row.sent_at.unwrap());
        assert_eq!(row.recipient, "", "no user in the directory: no address");

        let mut undated = log(Some("sms"), Some("sent"));
        undated.sent_at = None;
        let row = log_import(&undated, &context, fallback).row.unwrap();
        assert_eq!((row.created_at, row.sent_at), (fallback, None));
    }

    #[test]
    fn checksums_change_with_the_content_only() {
        let a = log(Some("sms"), Some("sent"));
        let mut b = a.clone();
        assert_eq!(log_checksum(&a), log_checksum(&b));
        b.status = Some("delivered".into());
        assert_ne!(log_checksum(&a), log_checksum(&b));
        let t = template("sms", None, "x", None);
        let mut later = t.clone();
        later.updated_at = Some(Utc::now());
        assert_eq!(template_checksum(&t), template_checksum(&later), "a touch is not a change");
        later.body = Some("y".into());
        assert_ne!(template_checksum(&t), template_checksum(&later));
    }
}
