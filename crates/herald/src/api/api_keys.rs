//! `/api/v1/api-keys`: the account's API keys. A key is shown once, when it is created;
//! only its SHA-256 and its first characters (`prefix`) are kept. Revoking a key ends the
//! dashboard sessions made with it.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::ApiKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{json_integer, ApiJson},
    AppState,
};
use crate::{
    model::{ApiKeyRecord, RequestRate},
    services::api_keys::Revoked,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_api_keys, create_api_key)).routes(routes!(revoke_api_key))
}

const MAX_NAME_CHARS: usize = 100;

/// Which key: enough to recognise it, never the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyRef {
    pub id: uuid::Uuid,
    pub name: String,
    /// The key's first characters.
    #[schema(example = "hrld_3q2mExa")]
    pub prefix: String,
}

impl From<&ApiKeyRecord> for ApiKeyRef {
    fn from(key: &ApiKeyRecord) -> Self {
        Self { id: key.id.as_uuid(), name: key.name.clone(), prefix: key.prefix.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: uuid::Uuid,
    pub name: String,
    #[schema(example = "hrld_3q2mExa")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; null while it is active.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its own request rate limit; null: the configured default.
    pub rate_limit_per_second: Option<u32>,
}

impl From<&ApiKeyRecord> for ApiKeyOut {
    fn from(key: &ApiKeyRecord) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
            rate_limit_per_second: key.rate_limit.map(|rate| rate.get().get()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Newest first, revoked keys included.
    pub data: Vec<ApiKeyOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyIn {
    /// What the key is for; 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "billing-service")]
    pub name: String,
    /// Its own request rate limit, requests a second; the configured default when absent.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_second: Option<serde_json::Value>,
}

/// A key just created. `key` is the key itself: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyOut {
    #[serde(flatten)]
    pub api_key: ApiKeyOut,
    #[schema(example = "hrld_3q2mExampleKeyOnly")]
    pub key: String,
}

/// The account's API keys, newest first (revoked ones too).
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    responses((status = 200, body = ApiKeyList)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<ApiKeyList>> {
    let keys = state.auth.list_keys(auth.account_id).await?;
    Ok(Json(ApiKeyList { data: keys.iter().map(ApiKeyOut::from).collect() }))
}

/// Creates an API key. The answer carries the key itself, once.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    request_body(content = CreateApiKeyIn, example = json!({"name": "billing-service", "rate_limit_per_second": 50})),
    responses(
        (status = 201, description = "Created; `key` is shown only now", body = CreatedApiKeyOut, links(
            ("RevokeApiKey" = (operation_id = "revoke_api_key", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 422, description = "An invalid name or rate limit (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(input): ApiJson<CreateApiKeyIn>,
) -> ApiResult<(StatusCode, Json<CreatedApiKeyOut>)> {
    let name = input.name.trim();
    if name.is_empty() || input.name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid_field("name", "must be 1 to 100 characters, not only spaces"));
    }
    let rate_limit = input
        .rate_limit_per_second
        .map(|value| {
            json_integer(&value)
                .and_then(|n| u32::try_from(n).ok())
                .and_then(|n| RequestRate::per_second(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid_field("rate_limit_per_second", "must be an integer from 1 to 1000000")
                })
        })
        .transpose()?;
    let created = state.auth.create_key(auth.account_id, name, rate_limit).await?;
    let body = CreatedApiKeyOut { api_key: ApiKeyOut::from(&created.record), key: created.secret };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Revokes an API key at once: requests with it get 401 from now on, and the dashboard
/// sessions made with it end. The key a request is made with cannot revoke itself.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "api-keys",
    params(("id" = uuid::Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No active key of the account has this id (`API_KEY_NOT_FOUND`)", body = ErrorBody),
        (status = 409, description = "The key this request is made with (`API_KEY_IN_USE`); use another key", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let not_found =
        || ApiError::new(StatusCode::NOT_FOUND, ErrorCode::ApiKeyNotFound, format!("no active API key {id}"));
    let key_id = uuid::Uuid::parse_str(&id).map(ApiKeyId::from_uuid).map_err(|_| not_found())?;
    if key_id == auth.key.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ApiKeyInUse,
            "this request is made with that key; revoke it with another one",
        ));
    }
    match state.auth.revoke_key(auth.account_id, key_id).await? {
        Revoked::Revoked => Ok(StatusCode::NO_CONTENT),
        Revoked::NotFound => Err(not_found()),
    }
}
