//! `GET /api/v1/events`: the outbox as a feed, so events can be followed without a broker.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{page_limit, ApiQuery},
    AppState,
};
use crate::model::FeedCursor;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Cursor: return events after this one (`next_cursor` of the previous page). Omit (or
    /// leave empty) to start at the beginning.
    #[param(value_type = String, required = false, pattern = "^(?:[0-9]{1,18}(?:-[0-9]{1,18})?)?$")]
    after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// One event in herald's envelope, plus its feed cursor.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Position in the feed; pass it as `after` to continue from here.
    pub cursor: String,
    #[schema(value_type = String, format = Uuid)]
    pub event_id: herald_domain::EventId,
    #[schema(example = "sms.sent")]
    pub event_type: String,
    pub aggregate_id: String,
    pub user_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub data: Vec<EventOut>,
    /// Cursor to pass as `after` for the next page; equal to the request's when nothing new.
    pub next_cursor: Option<String>,
}

/// Events in commit-safe order: a reader that follows `next_cursor` never skips one.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "Invalid cursor or limit", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    let after = match query.after.as_deref() {
        None | Some("") => FeedCursor::default(),
        Some(cursor) => {
            cursor.parse().map_err(|()| ApiError::bad_request(format!("invalid cursor '{cursor}'")))?
        }
    };
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let events = state.events.list(auth.account_id, after, limit).await?;
    let next_cursor =
        events.last().map_or(query.after.filter(|a| !a.is_empty()), |e| Some(e.cursor().to_string()));
    let data = events
        .into_iter()
        .map(|stored| EventOut {
            cursor: stored.cursor().to_string(),
            event_id: stored.event.event_id,
            event_type: stored.event.event_type,
            aggregate_id: stored.event.aggregate_id,
            user_id: stored.event.user_id,
            payload: stored.event.payload,
            metadata: stored.event.metadata,
            timestamp: stored.event.timestamp,
        })
        .collect();
    Ok(Json(EventPage { data, next_cursor }))
}
