//! The API's one error type and its JSON shape: `{"error": {"code": "...", "message": "..."}}`.
//! Only deliberate errors reach the client; anything unexpected is logged with its cause
//! and answered with an opaque 500.

use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ports::StoreError, services::intake::IntakeError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The error body every endpoint but `POST /sms` uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `VALIDATION_ERROR`.
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or invalid API key")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "request body is larger than the limit")
    }

    /// The database could not store the request: nothing was done; retry later.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            "the database cannot store this request right now; nothing was accepted, retry later",
        )
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")
    }

    /// Maps a JSON body rejection to status and code: 415 for a missing JSON content type,
    /// 413 for a body over the limit, 400 for malformed JSON, 422 for well-formed JSON of
    /// the wrong shape (wrong types, missing or unknown fields).
    pub fn from_json_rejection(rejection: &JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::validation(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => {
                Self::new(StatusCode::BAD_REQUEST, "INVALID_JSON", e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "expected a request body with Content-Type: application/json",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            other => Self::new(other.status(), "BAD_REQUEST", other.body_text()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            // Nothing was stored (a failed commit is never a success); the same request
            // may succeed once the database takes writes again.
            tracing::error!(error = %error, "database unavailable while handling request");
            return Self::unavailable();
        }
        tracing::error!(error = %error, "store error while handling request");
        Self::internal()
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Store(error) => error.into(),
            IntakeError::KeyReusedWithOtherRequest => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED", error.to_string())
            }
            IntakeError::KeyInFlight => {
                Self::new(StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE", error.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
