//! `/api/v1/dead-letters`: failed messages, and replaying them one by one or in bulk.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::{Channel, MessageId, MessageStatus};
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::{
        schema::{AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type},
        RefOr, Schema,
    },
    IntoParams, ToSchema,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{page_limit, ApiJson, ApiQuery},
    schema, AppState,
};
use crate::model::{DeadLetterFilter, Message};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(replay_dead_letters))
        .routes(routes!(replay_dead_letter))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
const MAX_REPLAY_IDS: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this channel (`sms`, `whatsapp`, `email`, `push`).
    #[param(schema_with = schema::channel, required = false)]
    channel: Option<String>,
    /// Only messages whose last attempt went to this provider.
    #[param(value_type = String, required = false)]
    provider: Option<String>,
    /// `next_cursor` of the previous page (a message id; empty means the first page).
    #[param(schema_with = schema::optional_message_id, required = false)]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, example = "sms")]
    pub channel: Channel,
    pub to: String,
    pub from: Option<String>,
    /// The error of the last attempt.
    pub last_error: Option<String>,
    /// Retries used before it failed.
    pub retry_count: u32,
    pub provider: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it failed.
    pub failed_at: DateTime<Utc>,
}

impl From<Message> for DeadLetterOut {
    fn from(message: Message) -> Self {
        Self {
            id: message.id,
            channel: message.channel,
            to: message.recipient.to_string(),
            from: message.sender,
            last_error: message.last_error,
            retry_count: message.retry_count,
            provider: message.provider,
            created_at: message.created_at,
            failed_at: message.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub data: Vec<DeadLetterOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Which dead letters to replay: a list of ids, or all (optionally filtered).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    /// Up to 1000 message ids. Ids that are not dead letters of this account are skipped.
    #[schema(schema_with = replay_ids)]
    pub ids: Option<Vec<MessageId>>,
    /// Replay every dead letter matching `channel` and `provider`.
    #[serde(default)]
    pub all: bool,
    /// Only this channel.
    #[schema(schema_with = schema::optional_channel)]
    pub channel: Option<Channel>,
    /// Only messages whose last attempt went to this provider.
    pub provider: Option<String>,
}

fn replay_ids() -> RefOr<Schema> {
    let ids = ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .max_items(Some(MAX_REPLAY_IDS));
    AnyOfBuilder::new().item(ids).item(ObjectBuilder::new().schema_type(Type::Null)).into()
}

/// `ReplayIn`'s rule that the derived schema cannot state: `ids` (an array), or
/// `"all": true` without ids.
pub(super) fn replay_in_rule() -> Schema {
    let by_ids = ObjectBuilder::new()
        .required("ids")
        .property("ids", ObjectBuilder::new().schema_type(Type::Array))
        .property("all", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])));
    let all = ObjectBuilder::new()
        .required("all")
        .property("all", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])))
        .property("ids", ObjectBuilder::new().schema_type(Type::Null));
    OneOfBuilder::new().item(by_ids).item(all).into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// How many messages were put back to `pending`.
    pub replayed: usize,
    #[schema(value_type = Vec<String>)]
    pub ids: Vec<MessageId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOneOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, example = "pending")]
    pub status: MessageStatus,
}

/// Failed messages (out of retries, or refused permanently), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/dead-letters",
    tag = "dead-letters",
    params(DeadLetterQuery),
    responses(
        (status = 200, body = DeadLetterPage),
        (status = 400, description = "Invalid filter, cursor or limit", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    let channel = query
        .channel
        .as_deref()
        .map(str::parse::<Channel>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let before = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<MessageId>().map_err(|_| ApiError::bad_request(format!("invalid cursor '{c}'"))))
        .transpose()?;
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = DeadLetterFilter { channel, provider: query.provider };
    let messages = state.dead_letters.list(auth.account_id, &filter, before, limit).await?;
    let next_cursor =
        (messages.len() == limit as usize).then(|| messages.last().map(|m| m.id.to_string())).flatten();
    Ok(Json(DeadLetterPage { data: messages.into_iter().map(DeadLetterOut::from).collect(), next_cursor }))
}

/// Replay dead letters in bulk: by ids, or all matching a filter.
#[utoipa::path(
    post,
    path = "/api/v1/dead-letters/replay",
    tag = "dead-letters",
    request_body = ReplayIn,
    responses(
        (status = 202, description = "Put back to pending; they will be sent again", body = ReplayOut),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 422, description = "Neither or both of `ids` and `\"all\": true`, or too many ids", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn replay_dead_letters(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(request): ApiJson<ReplayIn>,
) -> ApiResult<(StatusCode, Json<ReplayOut>)> {
    let ids = match (&request.ids, request.all) {
        (Some(_), true) | (None, false) => {
            return Err(ApiError::validation("give either `ids` or `\"all\": true`"));
        }
        (Some(ids), false) if ids.len() > MAX_REPLAY_IDS => {
            return Err(ApiError::validation(format!("at most {MAX_REPLAY_IDS} ids per request")));
        }
        (ids, _) => ids.as_deref(),
    };
    let filter = DeadLetterFilter { channel: request.channel, provider: request.provider.clone() };
    let replayed = state.dead_letters.replay(auth.account_id, ids, &filter).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayOut { replayed: replayed.len(), ids: replayed })))
}

/// Replay one dead letter.
#[utoipa::path(
    post,
    path = "/api/v1/dead-letters/{id}/replay",
    tag = "dead-letters",
    params(("id" = uuid::Uuid, Path, description = "Message id (a 404 for anything that is not one)")),
    responses(
        (status = 202, description = "Put back to pending; it will be sent again", body = ReplayOneOut, links(
            ("GetNotification" = (operation_id = "get_notification", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
        (status = 404, description = "No failed message with this id in this account", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn replay_dead_letter(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ReplayOneOut>)> {
    let not_found = || {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::DeadLetterNotFound, format!("no dead letter {id}"))
    };
    let message_id: MessageId = id.parse().map_err(|_| not_found())?;
    let replayed =
        state.dead_letters.replay(auth.account_id, Some(&[message_id]), &DeadLetterFilter::default()).await?;
    if replayed.is_empty() {
        return Err(not_found());
    }
    Ok((StatusCode::ACCEPTED, Json(ReplayOneOut { id: message_id, status: MessageStatus::Pending })))
}
