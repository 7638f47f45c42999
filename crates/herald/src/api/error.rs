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

use crate::{
    ports::StoreError,
    services::{compose::ComposeError, intake::IntakeError},
};

/// Every code an error body can carry. Clients match on these strings, so they are part
/// of the API: serialised in SCREAMING_SNAKE_CASE, never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    InvalidIdempotencyKey,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    NotificationNotFound,
    DeadLetterNotFound,
    CampaignNotFound,
    CampaignNotSendable,
    InvalidTemplate,
    UnknownCustomers,
    CustomerNotFound,
    CustomerInUse,
    DatabaseUnavailable,
    NotSentYet,
    ProviderNotFound,
    UserNotFound,
    UserChangedLater,
    TemplateNotFound,
    TemplateNameTaken,
    InvalidStatusTransition,
    RateLimited,
    CsrfTokenInvalid,
    ApiKeyNotFound,
    ApiKeyInUse,
    InternalError,
}

impl ErrorCode {
    /// The code as it appears in an error body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::InvalidJson => "INVALID_JSON",
            Self::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::CsrfTokenInvalid => "CSRF_TOKEN_INVALID",
            Self::ApiKeyNotFound => "API_KEY_NOT_FOUND",
            Self::ApiKeyInUse => "API_KEY_IN_USE",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::IdempotencyKeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            Self::NotificationNotFound => "NOTIFICATION_NOT_FOUND",
            Self::DeadLetterNotFound => "DEAD_LETTER_NOT_FOUND",
            Self::CampaignNotFound => "CAMPAIGN_NOT_FOUND",
            Self::CampaignNotSendable => "CAMPAIGN_NOT_SENDABLE",
            Self::InvalidTemplate => "INVALID_TEMPLATE",
            Self::UnknownCustomers => "UNKNOWN_CUSTOMERS",
            Self::CustomerNotFound => "CUSTOMER_NOT_FOUND",
            Self::CustomerInUse => "CUSTOMER_IN_USE",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::NotSentYet => "NOT_SENT_YET",
            Self::ProviderNotFound => "PROVIDER_NOT_FOUND",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::UserChangedLater => "USER_CHANGED_LATER",
            Self::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            Self::TemplateNameTaken => "TEMPLATE_NAME_TAKEN",
            Self::InvalidStatusTransition => "INVALID_STATUS_TRANSITION",
            Self::RateLimited => "RATE_LIMITED",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// The request field the error is about, when there is one.
    pub field: Option<std::borrow::Cow<'static, str>>,
    /// A notification's status when a status change was refused (409).
    pub current_status: Option<&'static str>,
}

/// The error body every endpoint but `POST /sms` uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `VALIDATION_ERROR`.
    #[schema(value_type = String, example = "VALIDATION_ERROR")]
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The request body field (`VALIDATION_ERROR`) or query parameter (`BAD_REQUEST`) the
    /// error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "subject")]
    pub field: Option<String>,
    /// The notification's status, when a status change was refused (`INVALID_STATUS_TRANSITION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "sent")]
    pub current_status: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, current_status: None }
    }

    /// A 422 about one field of the request body: the message starts with its name.
    pub fn invalid_field(field: &'static str, problem: impl std::fmt::Display) -> Self {
        Self { field: Some(field.into()), ..Self::validation(format!("'{field}' {problem}")) }
    }

    /// [`ApiError::invalid_field`] for a field whose name is made at run time
    /// (`context.order_id`).
    pub fn invalid_named_field(field: String, problem: impl std::fmt::Display) -> Self {
        let message = format!("'{field}' {problem}");
        Self { field: Some(field.into()), ..Self::validation(message) }
    }

    /// A 400 about one query parameter: the message starts with its name.
    pub fn invalid_parameter(name: &'static str, problem: impl std::fmt::Display) -> Self {
        Self { field: Some(name.into()), ..Self::bad_request(format!("'{name}' {problem}")) }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, "missing or invalid API key")
    }

    /// A request made with the dashboard's session cookie that is cross-origin, or
    /// changes state without the session's CSRF token.
    pub fn csrf(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::CsrfTokenInvalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationError, message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "request body is larger than the limit",
        )
    }

    /// 429: the API key is over its request rate limit; the response's `Retry-After` says
    /// when to come back.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!(
                "too many requests with this API key; retry in {retry_after_secs} s \
                 (RateLimit-Policy gives the key's limit)"
            ),
        )
    }

    /// The database could not store the request: nothing was done; retry later.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DatabaseUnavailable,
            "the database cannot store this request right now; nothing was accepted, retry later",
        )
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError, "internal error")
    }

    /// Maps a JSON body rejection to status and code: 415 for a missing JSON content type,
    /// 413 for a body over the limit, 400 for malformed JSON, 422 for well-formed JSON of
    /// the wrong shape (wrong types, missing or unknown fields).
    pub fn from_json_rejection(rejection: &JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::validation(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "expected a request body with Content-Type: application/json",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            other => Self::new(other.status(), ErrorCode::BadRequest, other.body_text()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::from(&error)
    }
}

impl From<&StoreError> for ApiError {
    fn from(error: &StoreError) -> Self {
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

impl From<ComposeError> for ApiError {
    fn from(error: ComposeError) -> Self {
        match error {
            ComposeError::Invalid { field, problem } => Self::invalid_named_field(field, problem),
            ComposeError::Store(error) => error.into(),
            ComposeError::SharedStore(error) => error.as_ref().into(),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Store(error) => error.into(),
            IntakeError::KeyReusedWithOtherRequest => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                error.to_string(),
            ),
            IntakeError::KeyInFlight => {
                Self::new(StatusCode::CONFLICT, ErrorCode::IdempotencyKeyInUse, error.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field.map(std::borrow::Cow::into_owned),
                current_status: self.current_status.map(str::to_owned),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_the_strings_clients_match_on() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::InvalidJson,
            ErrorCode::InvalidIdempotencyKey,
            ErrorCode::Unauthorized,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::ValidationError,
            ErrorCode::IdempotencyKeyReused,
            ErrorCode::IdempotencyKeyInUse,
            ErrorCode::NotificationNotFound,
            ErrorCode::DeadLetterNotFound,
            ErrorCode::CampaignNotFound,
            ErrorCode::CampaignNotSendable,
            ErrorCode::InvalidTemplate,
            ErrorCode::UnknownCustomers,
            ErrorCode::CustomerNotFound,
            ErrorCode::CustomerInUse,
            ErrorCode::DatabaseUnavailable,
            ErrorCode::RateLimited,
            ErrorCode::InternalError,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::CampaignNotFound,
                message: "Campaign with ID 7 not found".into(),
                field: None,
                current_status: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"CAMPAIGN_NOT_FOUND","message":"Campaign with ID 7 not found"}}"#
        );
    }
}
