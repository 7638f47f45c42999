//! `/api/v1/notifications`: send a notification, read its status and timeline.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::{
    CampaignId, Channel, HtmlBody, MessageBody, MessageId, MessageStatus, PushData, Recipient, SenderId,
    Subject,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{
        from_json_value, page_limit, replayable_response, replayed_response, ApiJson, ApiQuery,
        IdempotencyHeader,
    },
    schema, AppState,
};
use crate::{
    model::{
        FoundMessage, HistoryEntry, HistoryFilter, Hold, Message, MessageCursor, MessageEvent,
        MessageEventKind, MessageSearch, RichContent, StatusChanged,
    },
    services::{
        compose::TemplateSend,
        idempotency::{fingerprint, IdempotencyKey, IdempotentRequest},
        intake::{Accepted, Draft, IntakeOutcome, Respond},
        messages::{client_transitions, CLIENT_STATUSES},
    },
};

const SEND_PATH: &str = "/api/v1/notifications/send";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_notification))
        .routes(routes!(search_notifications))
        .routes(routes!(get_notification))
        .routes(routes!(user_history))
        .routes(routes!(set_notification_status))
}

/// The body of `POST /api/v1/notifications/send`: one shape per channel, or the brief's
/// send by template (its OpenAPI schema is [`schema::send_notification`]), read flat so
/// that a field of another shape is named in the error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendNotificationIn {
    pub channel: Option<Channel>,
    pub to: Option<String>,
    pub body: Option<String>,
    /// Sender: a sender id for SMS (the route's `sender`, else `sms.default_sender`, when
    /// absent), a mailbox for email
    /// (`email.from`, else the provider's).
    pub from: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub reply_to: Option<String>,
    pub unsubscribe_url: Option<String>,
    pub title: Option<String>,
    pub data: Option<Value>,
    pub idempotency_key: Option<String>,
    /// The user it is for: a string or a number (`12345`).
    pub user_id: Option<Value>,
    pub send_at: Option<DateTime<Utc>>,
    /// The brief's form: a template's id or name, rendered with `context`.
    pub template: Option<String>,
    pub context: Option<serde_json::Map<String, Value>>,
}

impl utoipa::PartialSchema for SendNotificationIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::send_notification()
    }
}

impl ToSchema for SendNotificationIn {}

/// The fields each channel takes besides `channel`, `to`, `body` and `idempotency_key`.
const EMAIL_ONLY: [&str; 4] = ["subject", "html", "reply_to", "unsubscribe_url"];
const PUSH_ONLY: [&str; 2] = ["title", "data"];
/// The fields a send by template does not take: the template gives them.
const DIRECT_ONLY: [&str; 8] =
    ["body", "from", "subject", "html", "reply_to", "unsubscribe_url", "title", "data"];

/// A user id given as a string or a whole number.
fn user_id_text(value: &Value) -> ApiResult<String> {
    let text = match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Number(n) => {
            n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| format!("{f:.0}"))
        }
        _ => None,
    };
    let text =
        text.ok_or_else(|| ApiError::invalid_field("user_id", "must be a string or a whole number"))?;
    herald_domain::UserId::parse(&text).map_err(|e| ApiError::invalid_field("user_id", e))?;
    Ok(text)
}

impl SendNotificationIn {
    fn given(&self, field: &str) -> bool {
        match field {
            "body" => self.body.is_some(),
            "from" => self.from.is_some(),
            "subject" => self.subject.is_some(),
            "html" => self.html.is_some(),
            "reply_to" => self.reply_to.is_some(),
            "unsubscribe_url" => self.unsubscribe_url.is_some(),
            "title" => self.title.is_some(),
            "data" => self.data.is_some(),
            _ => false,
        }
    }

    /// Refuses fields that belong to other channels.
    fn only(&self, channel: Channel, foreign: &[&'static str]) -> ApiResult<()> {
        match foreign.iter().find(|field| self.given(field)) {
            Some(field) => {
                Err(ApiError::invalid_field(field, format_args!("is not a field of {channel} notifications")))
            }
            None => Ok(()),
        }
    }

    /// The brief's form: a send by template, for [`Composer::compose`].
    fn into_template_send(self, template: String) -> ApiResult<TemplateSend> {
        if let Some(field) = DIRECT_ONLY.iter().find(|field| self.given(field)) {
            return Err(ApiError::invalid_field(
                field,
                "is not a field of a send by template (the template gives it)",
            ));
        }
        if self.channel == Some(Channel::Whatsapp) {
            return Err(whatsapp_not_here());
        }
        Ok(TemplateSend {
            user_id: self.user_id.as_ref().map(user_id_text).transpose()?,
            template,
            context: self.context.unwrap_or_default(),
            channel: self.channel,
            to: self.to,
            send_at: self.send_at,
        })
    }

    /// The validated message, with the configured defaults filled in.
    fn into_draft(self, config: &crate::config::Config, now: DateTime<Utc>) -> ApiResult<Draft> {
        if self.context.is_some() {
            return Err(ApiError::invalid_field(
                "context",
                "is a field of a send by template (give 'template')",
            ));
        }
        let channel = self.channel.ok_or_else(|| ApiError::invalid_field("channel", "is required"))?;
        let to = self.to.as_deref().ok_or_else(|| ApiError::invalid_field("to", "is required"))?;
        let to = Recipient::parse(channel, to).map_err(|e| ApiError::invalid_field("to", e))?;
        let body = self.body.as_deref().ok_or_else(|| ApiError::invalid_field("body", "is required"))?;
        let body = MessageBody::parse_for(channel, body).map_err(|e| ApiError::invalid_field("body", e))?;
        let user_id = self.user_id.as_ref().map(user_id_text).transpose()?;
        let hold = self
            .send_at
            .filter(|at| *at > now)
            .map(|until| Hold::Until { until, reason: format!("send_at {}", until.to_rfc3339()) });
        let mut content = RichContent::default();
        let from = match channel {
            Channel::Sms => {
                self.only(channel, &[EMAIL_ONLY.as_slice(), PUSH_ONLY.as_slice()].concat())?;
                // Without one, the route's sender or `sms.default_sender` (at intake).
                match self.from.as_deref() {
                    Some(from) => Some(
                        SenderId::parse(from).map_err(|e| ApiError::invalid_field("from", e))?.to_string(),
                    ),
                    None => None,
                }
            }
            Channel::Email => {
                self.only(channel, &PUSH_ONLY)?;
                let subject = self
                    .subject
                    .as_deref()
                    .ok_or_else(|| ApiError::invalid_field("subject", "is required for email"))?;
                content.subject =
                    Some(Subject::parse(subject).map_err(|e| ApiError::invalid_field("subject", e))?.into());
                content.html = match &self.html {
                    Some(html) => {
                        Some(HtmlBody::parse(html).map_err(|e| ApiError::invalid_field("html", e))?.into())
                    }
                    None => None,
                };
                content.reply_to =
                    mailbox("reply_to", self.reply_to.or_else(|| config.email.reply_to.clone()))?;
                content.unsubscribe_url = match self.unsubscribe_url {
                    Some(url) => Some(unsubscribe_url(&url)?),
                    None => None,
                };
                mailbox("from", self.from.or_else(|| config.email.from.clone()))?
            }
            Channel::Push => {
                self.only(channel, &[["from"].as_slice(), EMAIL_ONLY.as_slice()].concat())?;
                content.subject = match &self.title {
                    Some(title) => {
                        Some(Subject::parse(title).map_err(|e| ApiError::invalid_field("title", e))?.into())
                    }
                    None => None,
                };
                let data = match &self.data {
                    Some(data) => {
                        PushData::from_json(data).map_err(|e| ApiError::invalid_field("data", e))?
                    }
                    None => PushData::default(),
                };
                let bytes = data.payload_bytes(content.subject.as_deref(), body.as_str());
                if bytes > PushData::MAX_PAYLOAD_BYTES {
                    return Err(ApiError::invalid_field(
                        "data",
                        format_args!(
                            "makes the notification {bytes} bytes: title, body and data may hold at most {} bytes of text",
                            PushData::MAX_PAYLOAD_BYTES
                        ),
                    ));
                }
                content.data = data.into_map();
                None
            }
            Channel::Whatsapp => return Err(whatsapp_not_here()),
        };
        Ok(Draft {
            channel,
            to,
            from,
            body,
            content,
            user_id,
            tags: Default::default(),
            template: None,
            hold,
        })
    }
}

fn whatsapp_not_here() -> ApiError {
    ApiError::invalid_field(
        "channel",
        "'whatsapp' is not supported on this endpoint yet; use sms, email or push",
    )
}

/// A From or Reply-To mailbox: `ada@example.com` or `Ada <ada@example.com>`.
fn mailbox(field: &'static str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(value) if !crate::config::is_mailbox(value.trim()) => Err(ApiError::invalid_field(
            field,
            "must be an email address, optionally with a name: Ada <ada@example.com>",
        )),
        Some(value) => Ok(Some(value.trim().to_owned())),
        None => Ok(None),
    }
}

/// The `List-Unsubscribe` target: an `https:`, `http:` or `mailto:` URL of visible ASCII
/// without `<` and `>` (the header's delimiters), as [`schema::UNSUBSCRIBE_URL_PATTERN`] says.
fn unsubscribe_url(url: &str) -> ApiResult<String> {
    let rest = ["https://", "http://", "mailto:"].iter().find_map(|scheme| url.strip_prefix(scheme));
    let valid = rest.is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    }) && url.len() <= schema::MAX_URL_CHARS;
    if !valid {
        return Err(ApiError::invalid_field(
            "unsubscribe_url",
            format_args!(
                "must be an https:, http: or mailto: URL of at most {} visible ASCII characters",
                schema::MAX_URL_CHARS
            ),
        ));
    }
    Ok(url.to_owned())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendNotificationOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, example = "pending")]
    pub status: MessageStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, example = "sms")]
    pub channel: Channel,
    pub to: String,
    pub from: Option<String>,
    pub body: String,
    /// The email subject or push title.
    pub subject: Option<String>,
    /// The email's HTML alternative.
    pub html: Option<String>,
    pub reply_to: Option<String>,
    pub unsubscribe_url: Option<String>,
    /// A push notification's data map.
    pub data: Option<std::collections::BTreeMap<String, String>>,
    #[schema(schema_with = schema::message_status)]
    pub status: MessageStatus,
    /// The user it is for, when the send named one.
    pub user_id: Option<String>,
    /// The template it was rendered from, and that template's version then.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub template_id: Option<herald_domain::TemplateId>,
    pub template_version: Option<u32>,
    /// Attempts made so far: those the provider answered, and those lost with their worker
    /// (`lease_expired` entries).
    pub attempts: u32,
    /// Attempts that failed and were retried.
    pub retry_count: u32,
    /// SMS parts the text is sent in (GSM-7: 160, or 153 each when concatenated; UCS-2: 70,
    /// or 67): what the sender pays for. Null for email and push.
    pub segments: Option<u32>,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Everything that happened to the message, oldest first.
    pub events: Vec<TimelineEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// `accepted`, `attempt_succeeded`, `attempt_failed`, `lease_expired`, `replayed`,
    /// `deferred`, `delivery_receipt`, `scheduled`, `suppressed` or `status_changed`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "attempt_succeeded")]
    pub kind: MessageEventKind,
    #[schema(schema_with = schema::message_status)]
    pub status: MessageStatus,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

fn notification_out(message: Message, events: Vec<MessageEvent>) -> NotificationOut {
    let attempts = events.iter().filter(|e| e.is_attempt()).count() as u32;
    NotificationOut {
        id: message.id,
        channel: message.channel,
        to: message.recipient.to_string(),
        from: message.sender,
        body: message.body,
        subject: message.content.subject,
        html: message.content.html,
        reply_to: message.content.reply_to,
        unsubscribe_url: message.content.unsubscribe_url,
        data: (!message.content.data.is_empty()).then_some(message.content.data),
        status: message.status,
        user_id: message.user_id,
        template_id: message.template.map(|t| t.id),
        template_version: message.template.map(|t| t.version),
        attempts,
        retry_count: message.retry_count,
        segments: message.segments,
        last_error: message.last_error,
        provider: message.provider,
        provider_message_id: message.provider_message_id,
        next_attempt_at: message.next_attempt_at,
        created_at: message.created_at,
        updated_at: message.updated_at,
        sent_at: message.sent_at,
        events: events
            .into_iter()
            .map(|e| TimelineEntry { kind: e.kind, status: e.status, detail: e.detail, at: e.at })
            .collect(),
    }
}

/// Send a notification.
///
/// Answers 202 once the notification is durably stored; it is sent in the background.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/send",
    tag = "notifications",
    request_body = SendNotificationIn,
    responses(
        (status = 202, description = "Stored; it will be sent", body = SendNotificationOut,
         links(
             ("GetNotification" = (operation_id = "get_notification", parameters(("id" = "$response.body#/id")),
                description = "The notification just accepted: its status and timeline")),
             ("SetNotificationStatus" = (operation_id = "set_notification_status", parameters(("id" = "$response.body#/id")),
                description = "Cancel it while it waits, or report its delivery or reading")),
         )),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`), an invalid Idempotency-Key (`INVALID_IDEMPOTENCY_KEY`), or header and `idempotency_key` field that differ", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "Invalid field (`field` names it), unknown field or one of another channel, a recipient that does not fit the channel, or Idempotency-Key reused with another request", body = ErrorBody),
    ),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and request return the first response; kept idempotency.retention_hours (24 by default)")),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn send_notification(
    State(state): State<AppState>,
    auth: Authenticated,
    IdempotencyHeader(header_key): IdempotencyHeader,
    ApiJson(raw): ApiJson<Value>,
) -> ApiResult<Response> {
    let request: SendNotificationIn = from_json_value(&raw)?;
    let idempotency_field = request.idempotency_key.clone();
    let now = Utc::now();
    let draft = match request.template.clone() {
        Some(template) => {
            let send = request.into_template_send(template)?;
            state.composer.compose(auth.account_id, send, now).await?
        }
        None => request.into_draft(&state.config, now)?,
    };
    let key = match (header_key, idempotency_field.as_deref()) {
        (Some(header), Some(field)) if header.as_str() != field => {
            return Err(ApiError::bad_request("Idempotency-Key header and idempotency_key field differ"));
        }
        (Some(header), _) => Some(header),
        (None, Some(field)) => {
            Some(IdempotencyKey::parse(field).map_err(|e| ApiError::invalid_field("idempotency_key", e))?)
        }
        (None, None) => None,
    };
    let idempotent =
        key.map(|key| IdempotentRequest { key, fingerprint: fingerprint("POST", SEND_PATH, &raw) });
    let respond = |accepted: &Accepted| {
        let out = SendNotificationOut { id: accepted.id, status: accepted.status };
        (StatusCode::ACCEPTED.as_u16(), serde_json::to_string(&out).unwrap_or_default())
    };
    let outcome = state
        .intake
        .accept(auth.account_id, draft, idempotent.as_ref().map(|r| (r, &respond as Respond<'_>)))
        .await?;
    Ok(match outcome {
        IntakeOutcome::Accepted(accepted) => {
            let (status, body) = respond(&accepted);
            replayable_response(status, body)
        }
        IntakeOutcome::Replayed { status, body } => replayed_response(status, body),
    })
}

/// A notification's status, attempts and timeline.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/{id}",
    tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "Notification id (a 404 for anything that is not one)")),
    responses(
        (status = 200, body = NotificationOut),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 404, description = "No such notification in this account", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_notification(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationOut>> {
    let not_found = || {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotificationNotFound, format!("no notification {id}"))
    };
    let message_id: MessageId = id.parse().map_err(|_| not_found())?;
    let (message, events) = state.messages.get(auth.account_id, message_id).await?.ok_or_else(not_found)?;
    Ok(Json(notification_out(message, events)))
}

/// Page sizes of the newest-first lists of messages (a user's history, a search).
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A newest-first list's `cursor` and `limit`, checked: where the page starts and its size.
fn page_params(cursor: Option<&str>, limit: Option<u32>) -> ApiResult<(Option<MessageCursor>, u32)> {
    let limit = page_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
    let before = cursor
        .map(|c| {
            c.parse::<MessageCursor>()
                .map_err(|_| ApiError::invalid_parameter("cursor", "is not a next_cursor"))
        })
        .transpose()?;
    Ok((before, limit))
}

/// The page out of the `limit + 1` rows fetched for it: the first `limit`, and the cursor
/// of the next page when there was one more (so the last page never points at an empty one).
fn newest_first_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> MessageCursor,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().filter(|_| more).map(|last| cursor(last).to_string());
    (rows, next_cursor)
}

/// An optional query parameter parsed by `parse`; a value it refuses is a 400 naming it.
fn parameter<T, E>(
    name: &'static str,
    text: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
    expected: &str,
) -> ApiResult<Option<T>> {
    text.map(|text| {
        parse(text).map_err(|_| ApiError::invalid_parameter(name, format_args!("must be {expected}")))
    })
    .transpose()
}

/// What `status` and `channel` take, for error messages (a test keeps them complete).
const STATUSES: &str = "a message status (pending, scheduled, sending, sent, delivered, read, undelivered, failed, cancelled or suppressed)";
const CHANNELS: &str = "a channel (sms, whatsapp, email or push)";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only notifications in this status.
    #[param(schema_with = schema::message_status, required = false)]
    status: Option<String>,
    /// Only notifications on this channel.
    #[param(schema_with = schema::channel, required = false)]
    channel: Option<String>,
    /// Only notifications rendered from this template (its id).
    #[param(value_type = uuid::Uuid, required = false)]
    template: Option<String>,
    /// Only notifications created at or after this time (RFC 3339).
    #[param(value_type = DateTime<Utc>, required = false)]
    since: Option<String>,
    /// Only notifications created before this time (RFC 3339).
    #[param(value_type = DateTime<Utc>, required = false)]
    until: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(schema_with = schema::message_cursor, required = false)]
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, example = "email")]
    pub channel: Channel,
    pub to: String,
    #[schema(schema_with = schema::message_status)]
    pub status: MessageStatus,
    /// The template it was rendered from, with the name that version had.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub template_id: Option<herald_domain::TemplateId>,
    #[schema(example = "order_shipped")]
    pub template_name: Option<String>,
    pub template_version: Option<u32>,
    /// The email subject or push title.
    pub subject: Option<String>,
    pub body: String,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    #[schema(example = "12345")]
    pub user_id: String,
    /// Newest first.
    pub data: Vec<HistoryItem>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

fn history_item(entry: HistoryEntry) -> HistoryItem {
    let message = entry.message;
    HistoryItem {
        id: message.id,
        channel: message.channel,
        to: message.recipient.to_string(),
        status: message.status,
        template_id: message.template.map(|t| t.id),
        template_name: entry.template_name,
        template_version: message.template.map(|t| t.version),
        subject: message.content.subject,
        body: message.body,
        last_error: message.last_error,
        created_at: message.created_at,
        sent_at: message.sent_at,
        updated_at: message.updated_at,
    }
}

/// A user's notifications, newest first, a page at a time.
///
/// One query per page, with each notification's template name (as of the version it was
/// sent with) joined in. Pages follow creation time, then id: rows that arrive while you
/// page appear at the front and never shift the pages you are reading.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/user/{user_id}",
    tag = "notifications",
    params(
        ("user_id" = String, Path, description = "The caller's id for the user", pattern = r#"^[!"$&-.0->@-~]{1,128}$"#),
        HistoryQuery,
    ),
    responses(
        (status = 200, body = HistoryPage),
        (status = 400, description = "An invalid filter, cursor or limit", body = ErrorBody),
        (status = 404, description = "Not a user id (`USER_NOT_FOUND`)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn user_history(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    let Ok(id) = herald_domain::UserId::parse(&user_id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("User {user_id} not found"),
        ));
    };
    let (before, limit) = page_params(query.cursor.as_deref(), query.limit)?;
    let time = |name, text: &Option<String>| {
        let rfc3339 = |t: &str| DateTime::parse_from_rfc3339(t).map(|t| t.to_utc());
        parameter(name, text.as_deref(), rfc3339, "an RFC 3339 time")
    };
    let filter = HistoryFilter {
        status: parameter("status", query.status.as_deref(), str::parse, STATUSES)?,
        channel: parameter("channel", query.channel.as_deref(), str::parse, CHANNELS)?,
        template: parameter("template", query.template.as_deref(), str::parse, "a template id")?,
        since: time("since", &query.since)?,
        until: time("until", &query.until)?,
    };
    let entries = state.messages.history(auth.account_id, &id, &filter, before, limit + 1).await?;
    let (entries, next_cursor) = newest_first_page(entries, limit, |e| MessageCursor::from(&e.message));
    Ok(Json(HistoryPage { user_id, data: entries.into_iter().map(history_item).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Only notifications in this status.
    #[param(schema_with = schema::message_status, required = false)]
    status: Option<String>,
    /// Only notifications on this channel.
    #[param(schema_with = schema::channel, required = false)]
    channel: Option<String>,
    /// Only notifications to this recipient, exactly as sent to: E.164 for SMS and WhatsApp
    /// (`%2B254712345678`: a `+` left unencoded is a space), the address for email, the token
    /// for push.
    #[param(value_type = String, required = false, pattern = r"^[^\x00-\x1F\x7F-\x9F]{1,4096}$", example = "+254712345678")]
    recipient: Option<String>,
    /// Only notifications of this campaign.
    #[param(schema_with = schema::campaign_id, required = false)]
    campaign_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(schema_with = schema::message_cursor, required = false)]
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Longest recipient searched for: a push token's length.
const MAX_RECIPIENT_CHARS: usize = 4096;

impl SearchQuery {
    fn search(&self) -> ApiResult<MessageSearch> {
        let recipient = |text: &str| {
            let valid = (1..=MAX_RECIPIENT_CHARS).contains(&text.chars().count())
                && !text.chars().any(char::is_control);
            valid.then(|| text.to_owned()).ok_or(())
        };
        let campaign = |text: &str| text.parse::<CampaignId>().ok().filter(|id| id.get() >= 1).ok_or(());
        Ok(MessageSearch {
            status: parameter("status", self.status.as_deref(), str::parse, STATUSES)?,
            channel: parameter("channel", self.channel.as_deref(), str::parse, CHANNELS)?,
            recipient: parameter(
                "recipient",
                self.recipient.as_deref(),
                recipient,
                "1 to 4096 characters without control characters",
            )?,
            campaign: parameter(
                "campaign_id",
                self.campaign_id.as_deref(),
                campaign,
                "a campaign id (a positive integer)",
            )?,
        })
    }
}

/// A notification as a search lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(schema_with = schema::message_status)]
    pub status: MessageStatus,
    #[schema(schema_with = schema::channel)]
    pub channel: Channel,
    /// E.164 for SMS and WhatsApp, the address for email, the token for push.
    #[schema(example = "+254712345678")]
    pub recipient: String,
    /// The user it is for, when the send named one.
    #[schema(required = true)]
    pub user_id: Option<String>,
    #[schema(schema_with = schema::optional_campaign_id, required = true)]
    pub campaign_id: Option<CampaignId>,
    /// Attempts made so far (as `attempts` of `GET /api/v1/notifications/{id}`).
    pub attempts: u32,
    /// The error of the last failed attempt, or why it was not sent.
    #[schema(required = true)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    /// Newest first.
    pub data: Vec<NotificationSummary>,
    /// Pass as `cursor` (with the same filters) for the next (older) page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

fn notification_summary(found: FoundMessage) -> NotificationSummary {
    let message = found.message;
    NotificationSummary {
        id: message.id,
        status: message.status,
        channel: message.channel,
        recipient: message.recipient.to_string(),
        user_id: message.user_id,
        campaign_id: message.campaign.map(|c| c.campaign_id),
        attempts: found.attempts,
        last_error: message.last_error,
        created_at: message.created_at,
        updated_at: message.updated_at,
    }
}

/// Finds the account's notifications, newest first, a page at a time: by status, channel,
/// recipient or campaign (every filter given must match).
///
/// One notification by id, with its timeline, is `GET /api/v1/notifications/{id}`. Pages
/// follow creation time, then id: notifications that arrive while you page appear at the
/// front and never shift the pages you are reading.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(SearchQuery),
    responses(
        (status = 200, body = NotificationPage, example = json!({
            "data": [{
                "id": "0193a0c4-5d2e-7b1a-9c3f-2a4b6c8d0e1f",
                "status": "failed",
                "channel": "sms",
                "recipient": "+254712345678",
                "user_id": "12345",
                "campaign_id": 42,
                "attempts": 3,
                "last_error": "provider answered 503",
                "created_at": "2026-12-05T10:00:00.123456Z",
                "updated_at": "2026-12-05T10:00:09.5Z"
            }],
            "next_cursor": "1764928800123456_0193a0c4-5d2e-7b1a-9c3f-2a4b6c8d0e1f"
        })),
        (status = 400, description = "An invalid filter, cursor or limit (`BAD_REQUEST`; `field` names the parameter)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn search_notifications(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let (before, limit) = page_params(query.cursor.as_deref(), query.limit)?;
    let search = query.search()?;
    let found = state.messages.search(auth.account_id, &search, before, limit + 1).await?;
    let (found, next_cursor) = newest_first_page(found, limit, |f| MessageCursor::from(&f.message));
    Ok(Json(NotificationPage { data: found.into_iter().map(notification_summary).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// `cancelled` (while `pending` or `scheduled`), `delivered` (after `sent`) or `read`
    /// (after `sent` or `delivered`).
    #[schema(value_type = String, pattern = "^(cancelled|delivered|read)$", example = "read")]
    pub status: String,
    /// Why, for the timeline and the event.
    #[schema(max_length = 500, example = "opened in the app")]
    pub reason: Option<String>,
}

/// Changes a notification's status as the client reports or asks: cancel one that has not
/// gone out, or record delivery or reading that herald cannot see. Each change is a
/// `status_changed` timeline entry and a `notification.<status>` event; any other change
/// is a 409 with the current status.
#[utoipa::path(
    put,
    path = "/api/v1/notifications/{id}/status",
    tag = "notifications",
    params(("id" = uuid::Uuid, Path, description = "Notification id (a 404 for anything that is not one)")),
    request_body(content = StatusIn, example = json!({"status": "read", "reason": "opened in the app"})),
    responses(
        (status = 200, description = "Changed; the notification as it is now", body = NotificationOut),
        (status = 404, description = "No such notification in this account (`NOTIFICATION_NOT_FOUND`)", body = ErrorBody),
        (status = 409, description = "Not a change its current status allows (`INVALID_STATUS_TRANSITION`, with `current_status`)", body = ErrorBody),
        (status = 422, description = "An invalid field (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn set_notification_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StatusIn>,
) -> ApiResult<Json<NotificationOut>> {
    let not_found = || {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotificationNotFound, format!("no notification {id}"))
    };
    let message_id: MessageId = id.parse().map_err(|_| not_found())?;
    let to = input
        .status
        .parse::<MessageStatus>()
        .ok()
        .filter(|status| CLIENT_STATUSES.contains(status))
        .ok_or_else(|| ApiError::invalid_field("status", "must be cancelled, delivered or read"))?;
    if input.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid_field("reason", "is longer than 500 characters"));
    }
    match state.messages.set_status(auth.account_id, message_id, to, input.reason.as_deref()).await? {
        StatusChanged::Changed(_) => {}
        StatusChanged::NotFound => return Err(not_found()),
        StatusChanged::Refused(current) => {
            let from: Vec<&str> = client_transitions(to).iter().map(|s| s.as_str()).collect();
            let mut error = ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidStatusTransition,
                format!("notification {id} is {current}; {to} is only possible from {}", from.join(" or ")),
            );
            error.current_status = Some(current.as_str());
            return Err(error);
        }
    }
    let (message, events) = state.messages.get(auth.account_id, message_id).await?.ok_or_else(not_found)?;
    Ok(Json(notification_out(message, events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_messages_name_every_status_and_channel() {
        for status in MessageStatus::ALL {
            assert!(STATUSES.contains(status.as_str()), "{status}");
        }
        for channel in Channel::ALL {
            assert!(CHANNELS.contains(channel.as_str()), "{channel}");
        }
    }

    #[test]
    fn a_page_points_at_the_next_only_when_a_row_more_was_found() {
        let at = |seconds: i64| DateTime::from_timestamp(1_764_928_800 - seconds, 0).unwrap();
        let rows: Vec<(DateTime<Utc>, MessageId)> = (0..3).map(|n| (at(n), MessageId::new())).collect();
        let cursor = |rows: Vec<_>, limit| {
            newest_first_page(rows, limit, |&(created_at, id)| MessageCursor { created_at, id }).1
        };
        let second = MessageCursor { created_at: rows[1].0, id: rows[1].1 };
        assert_eq!(cursor(rows.clone(), 2), Some(second.to_string()));
        assert_eq!(cursor(rows, 3), None, "all there is: no cursor to an empty page");
        assert_eq!(second.to_string().parse::<MessageCursor>(), Ok(second));
    }
}
