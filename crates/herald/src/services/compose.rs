//! Sends by template: "template X to user 12345 with this context". The template is
//! resolved (cached), the recipient found in the user directory (or given as `to`), the
//! channel taken from the template unless given, subject and bodies rendered with the
//! context (values HTML-escaped into an HTML body), and the user's preferences applied:
//! a channel switched off or an opted-out category suppresses the message, quiet hours
//! hold it until they end, and `send_at` holds it until then. Everything is decided
//! before anything is stored; intake then stores the message in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_domain::{
    template::escape_html, Channel, HtmlBody, MessageBody, Recipient, Subject, Template as Parsed, TimeZone,
    UserId,
};
use serde_json::{Map, Value};

use super::{
    intake::Draft,
    templates::{Templates, Unresolved},
};
use crate::{
    config::Config,
    model::{Hold, Preferences, RichContent, Template, TemplateUse, User},
    ports::{Store, StoreError},
};

/// A send by template, as the request gives it.
#[derive(Debug, Clone)]
pub struct TemplateSend {
    pub user_id: Option<String>,
    /// The template's id or name.
    pub template: String,
    pub context: Map<String, Value>,
    pub channel: Option<Channel>,
    pub to: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A request field (or `context.<variable>`) is missing or wrong: a 422 naming it.
    #[error("'{field}' {problem}")]
    Invalid { field: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A store failure met while loading a template into the cache (shared by the sends
    /// that waited for that load).
    #[error(transparent)]
    SharedStore(Arc<StoreError>),
}

fn invalid(field: impl Into<String>, problem: impl std::fmt::Display) -> ComposeError {
    ComposeError::Invalid { field: field.into(), problem: problem.to_string() }
}

#[derive(Clone)]
pub struct Composer {
    store: Arc<dyn Store>,
    templates: Templates,
    config: Arc<Config>,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer").finish_non_exhaustive()
    }
}

impl Composer {
    pub fn new(store: Arc<dyn Store>, templates: Templates, config: Arc<Config>) -> Self {
        Self { store, templates, config }
    }

    /// The message a template send makes, ready for intake, or why there is none.
    pub async fn compose(
        &self,
        account: herald_domain::AccountId,
        send: TemplateSend,
        now: DateTime<Utc>,
    ) -> Result<Draft, ComposeError> {
        let user_id = match &send.user_id {
            Some(id) => Some(UserId::parse(id).map_err(|e| invalid("user_id", e))?),
            None if send.to.is_some() => None,
            None => return Err(invalid("user_id", "is required unless 'to' is given")),
        };
        let template = self.templates.resolve(account, &send.template).await.map_err(|e| match e {
            Unresolved::Unknown(name) => invalid("template", format_args!("names no template: {name:?}")),
            Unresolved::Deleted(name) => invalid("template", format_args!("{name:?} is deleted")),
            Unresolved::Store(error) => ComposeError::SharedStore(error),
        })?;
        let channel = send.channel.unwrap_or(template.content.channel);
        let (user, preferences) = match &user_id {
            Some(id) => {
                let (user, preferences) = tokio::try_join!(
                    self.store.get_user(account, id),
                    self.store.get_preferences(account, id)
                )?;
                (user, preferences.map(|p| p.preferences).unwrap_or_default())
            }
            None => (None, Preferences::default()),
        };
        let to = match &send.to {
            Some(to) => Recipient::parse(channel, to).map_err(|e| invalid("to", e))?,
            None => address_of(user.as_ref(), user_id.as_ref(), channel)?,
        };
        let rendered = render(&template, channel, &send.context)?;
        let time_zone = user.as_ref().and_then(|u| u.profile.time_zone);
        let hold = decide(&template, channel, &preferences, time_zone.as_ref(), send.send_at, now);
        let from = match channel {
            Channel::Email => self.config.email.from.clone(),
            _ => None,
        };
        let mut content = rendered.content;
        if channel == Channel::Email {
            content.reply_to = self.config.email.reply_to.clone();
        }
        Ok(Draft {
            channel,
            to,
            from,
            body: rendered.body,
            content,
            user_id: user_id.map(String::from),
            tags: Default::default(),
            template: Some(TemplateUse { id: template.id, version: template.version }),
            hold,
        })
    }
}

/// The user's address for the channel: phone for SMS and WhatsApp, email, or the first
/// push token.
fn address_of(user: Option<&User>, id: Option<&UserId>, channel: Channel) -> Result<Recipient, ComposeError> {
    let id = id.map(UserId::as_str).unwrap_or_default();
    let user = user.ok_or_else(|| {
        invalid("user_id", format_args!("names no user: {id:?} (PUT /api/v1/users/{id} first, or give 'to')"))
    })?;
    let profile = &user.profile;
    let address = match channel {
        Channel::Sms | Channel::Whatsapp => profile.phone.as_ref().map(|p| p.as_str().to_owned()),
        Channel::Email => profile.email.as_ref().map(|e| e.as_str().to_owned()),
        Channel::Push => profile.push_tokens.first().map(|t| t.as_str().to_owned()),
    };
    let what = match channel {
        Channel::Sms | Channel::Whatsapp => "phone number",
        Channel::Email => "email address",
        Channel::Push => "push token",
    };
    let address =
        address.ok_or_else(|| invalid("user_id", format_args!("user {id:?} has no {what} for {channel}")))?;
    Recipient::parse(channel, &address).map_err(|e| invalid("user_id", format_args!("user {id:?}: {e}")))
}

struct Rendered {
    body: MessageBody,
    content: RichContent,
}

/// A context value as text: strings as they are, numbers and booleans written out, objects
/// and arrays as JSON; null (like a missing value) is `None`.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The context's value for a variable: `order.id` reads `{"order": {"id": ...}}`, or a
/// key literally named `order.id`.
fn lookup<'a>(context: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let nested = name.split_once('.').and_then(|(outer, inner)| context.get(outer)?.get(inner));
    nested.or_else(|| context.get(name)).filter(|v| !v.is_null())
}

fn render(
    template: &Template,
    channel: Channel,
    context: &Map<String, Value>,
) -> Result<Rendered, ComposeError> {
    let content = &template.content;
    for variable in content.variables.iter().filter(|v| v.required) {
        let given = lookup(context, &variable.name).and_then(value_text).is_some_and(|v| !v.is_empty());
        if !given {
            return Err(invalid(
                format!("context.{}", variable.name),
                format_args!("is required by template {:?}", content.name),
            ));
        }
    }
    let texts: std::collections::HashMap<&str, String> = content
        .variables
        .iter()
        .filter_map(|v| Some((v.name.as_str(), lookup(context, &v.name).and_then(value_text)?)))
        .collect();
    let fill = |source: &str, escape: bool| -> Result<String, ComposeError> {
        // Stored templates were checked when written; a failure here is a corrupt row.
        let parsed = Parsed::parse_any(source, usize::MAX).map_err(|e| {
            ComposeError::Store(StoreError::Corrupt(format!("template {}: {e}", template.id)))
        })?;
        if escape {
            let escaped: std::collections::HashMap<&str, String> =
                texts.iter().map(|(k, v)| (*k, escape_html(v))).collect();
            Ok(parsed.render(|name| escaped.get(name).map(String::as_str)))
        } else {
            Ok(parsed.render(|name| texts.get(name).map(String::as_str)))
        }
    };
    let rendered_field = |field: &str| format!("context (renders the template's {field}, which then");
    let text = fill(&content.body, false)?;
    let body = MessageBody::parse_for(channel, &text)
        .map_err(|e| invalid("context", format_args!("{} {e})", rendered_field("body"))))?;
    let mut rich = RichContent::default();
    if let Some(subject) = &content.subject {
        if matches!(channel, Channel::Email | Channel::Push) {
            let text = fill(subject, false)?;
            let subject = Subject::parse(&text)
                .map_err(|e| invalid("context", format_args!("{} {e})", rendered_field("subject"))))?;
            rich.subject = Some(subject.into());
        }
    }
    if channel == Channel::Email && rich.subject.is_none() {
        return Err(invalid(
            "channel",
            format_args!("is email, but template {:?} has no subject to send it with", content.name),
        ));
    }
    if let (Some(html), Channel::Email) = (&content.html, channel) {
        let text = fill(html, true)?;
        let html = HtmlBody::parse(&text)
            .map_err(|e| invalid("context", format_args!("{} {e})", rendered_field("html"))))?;
        rich.html = Some(html.into());
    }
    Ok(Rendered { body, content: rich })
}

/// What the preferences and `send_at` make of a message: suppressed (a channel switched
/// off, always; an opted-out category, unless transactional), held until quiet hours end
/// (unless transactional), held until `send_at`, or sent now (`None`).
pub fn decide(
    template: &Template,
    channel: Channel,
    preferences: &Preferences,
    time_zone: Option<&TimeZone>,
    send_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Hold> {
    let content = &template.content;
    if preferences.channels_off.contains(&channel) {
        return Some(Hold::Suppressed { reason: format!("the user switched {channel} notifications off") });
    }
    if !content.transactional {
        if let Some(category) =
            content.category.as_ref().filter(|c| preferences.opted_out_categories.contains(*c))
        {
            return Some(Hold::Suppressed {
                reason: format!("the user opted out of {category:?} notifications"),
            });
        }
    }
    let due = send_at.filter(|at| *at > now);
    let moment = due.unwrap_or(now);
    if let (Some(quiet), false) = (preferences.quiet_hours, content.transactional) {
        let tz = time_zone.map_or(chrono_tz::UTC, TimeZone::tz);
        if let Some(end) = quiet.ends_after(moment, tz) {
            return Some(Hold::Until {
                until: end,
                reason: format!("quiet hours {quiet} ({}) until {}", tz.name(), end.to_rfc3339()),
            });
        }
    }
    due.map(|until| Hold::Until { until, reason: format!("send_at {}", until.to_rfc3339()) })
}
