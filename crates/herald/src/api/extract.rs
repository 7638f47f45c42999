//! Extractors that turn every malformed request into an [`ApiError`].

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header::CONTENT_TYPE, request::Parts, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::de::{Deserialize, DeserializeOwned};

use super::error::{ApiError, ErrorCode};
use crate::services::idempotency::IdempotencyKey;

/// `Json<T>` whose rejections use herald's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::from_json_rejection(&rejection)),
        }
    }
}

/// `Query<T>` whose rejections are 400s in herald's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Reads a request body already parsed as JSON into `T`; a wrong shape is a 422.
pub fn from_json_value<'a, T: Deserialize<'a>>(value: &'a serde_json::Value) -> Result<T, ApiError> {
    T::deserialize(value).map_err(|e| ApiError::validation(format!("invalid request body: {e}")))
}

pub use crate::services::json::json_integer;

/// The optional `Idempotency-Key` header; an invalid one is a 400.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value.to_str().ok().and_then(|v| IdempotencyKey::parse(v).ok()).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?;
        Ok(Self(Some(key)))
    }
}

/// A JSON response built from the same (status, body) an idempotent request stores, so
/// the first answer and its replays are byte for byte the same.
pub fn replayable_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A stored response sent again for a repeated idempotent request.
pub fn replayed_response(status: u16, body: String) -> Response {
    let mut response = replayable_response(status, body);
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// A list endpoint's `limit`: `default` when absent, a 400 outside 1..=`max`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid_parameter("limit", format_args!("must be between 1 and {max}")))
    }
}
