//! `/api/v1/notifications`: send a notification, read its status and timeline.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::{Channel, MessageBody, MessageId, MessageStatus, PhoneNumber, SenderId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{from_json_value, replayable_response, replayed_response, ApiJson, IdempotencyHeader},
    schema, AppState,
};
use crate::{
    model::{Message, MessageEvent, MessageEventKind},
    services::{
        idempotency::{fingerprint, IdempotencyKey, IdempotentRequest},
        intake::{Accepted, IntakeOutcome, Respond, SmsDraft},
    },
};

const SEND_PATH: &str = "/api/v1/notifications/send";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_notification)).routes(routes!(get_notification))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendNotificationIn {
    #[schema(schema_with = schema::notification_channel)]
    pub channel: Channel,
    #[schema(schema_with = schema::phone)]
    pub to: String,
    #[schema(schema_with = schema::message_body)]
    pub body: String,
    /// Sender id; the configured `sms.default_sender` when absent or null.
    #[schema(schema_with = schema::optional_sender)]
    pub from: Option<String>,
    #[schema(schema_with = schema::optional_idempotency_key)]
    pub idempotency_key: Option<String>,
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
    #[schema(schema_with = schema::message_status)]
    pub status: MessageStatus,
    /// Attempts made so far: those the provider answered, and those lost with their worker
    /// (`lease_expired` entries).
    pub attempts: u32,
    /// Attempts that failed and were retried.
    pub retry_count: u32,
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
    /// `accepted`, `attempt_succeeded`, `attempt_failed`, `lease_expired`, `replayed` or `deferred`.
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
        status: message.status,
        attempts,
        retry_count: message.retry_count,
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
         links(("GetNotification" = (operation_id = "get_notification", parameters(("id" = "$response.body#/id")),
                description = "The notification just accepted: its status and timeline")))),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`), an invalid Idempotency-Key (`INVALID_IDEMPOTENCY_KEY`), or header and `idempotency_key` field that differ", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "Invalid field, unknown field, unsupported channel, or Idempotency-Key reused with another request", body = ErrorBody),
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
    if request.channel != Channel::Sms {
        return Err(ApiError::validation(format!(
            "channel '{}' is not supported yet; use 'sms'",
            request.channel
        )));
    }
    let to = PhoneNumber::parse(&request.to).map_err(|e| ApiError::validation(format!("'to' {e}")))?;
    let from = request.from.as_deref().unwrap_or(&state.config.sms.default_sender);
    let from = SenderId::parse(from).map_err(|e| ApiError::validation(format!("'from': {e}")))?;
    let body = MessageBody::parse(&request.body).map_err(|e| ApiError::validation(format!("'body' {e}")))?;
    let key = match (header_key, request.idempotency_key.as_deref()) {
        (Some(header), Some(field)) if header.as_str() != field => {
            return Err(ApiError::bad_request("Idempotency-Key header and idempotency_key field differ"));
        }
        (Some(header), _) => Some(header),
        (None, Some(field)) => Some(
            IdempotencyKey::parse(field)
                .map_err(|e| ApiError::validation(format!("'idempotency_key': {e}")))?,
        ),
        (None, None) => None,
    };
    let idempotent =
        key.map(|key| IdempotentRequest { key, fingerprint: fingerprint("POST", SEND_PATH, &raw) });
    let respond = |accepted: &Accepted| {
        let out = SendNotificationOut { id: accepted.id, status: accepted.status };
        (StatusCode::ACCEPTED.as_u16(), serde_json::to_string(&out).unwrap_or_default())
    };
    let draft = SmsDraft { to, from, body, user_id: None, tags: Default::default() };
    let outcome = state
        .intake
        .accept_sms(auth.account_id, draft, idempotent.as_ref().map(|r| (r, &respond as Respond<'_>)))
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
