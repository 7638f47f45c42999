//! `POST /sms`, the sms-processor contract, kept word for word: its request body
//! (`recipient` as a JSON number), its `{"message", "status"}` answers and its own error
//! shape.

use axum::{
    extract::{rejection::JsonRejection, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use herald_domain::{MessageBody, PhoneNumber, SenderId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ErrorCode},
    extract::{from_json_value, json_integer, replayable_response, replayed_response, IdempotencyHeader},
    schema, AppState,
};
use crate::services::{
    idempotency::{fingerprint, IdempotentRequest},
    intake::{Accepted, IntakeOutcome, Respond, SmsDraft},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_sms))
}

/// Fields are loose JSON values so that a missing or mistyped field gets the contract's
/// `'<field>' field '<value>' is invalid: '<reason>'` message rather than a serde error.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    #[schema(schema_with = schema::sms_recipient, required = true)]
    recipient: Option<Value>,
    #[schema(schema_with = schema::sender, required = true)]
    originator: Option<Value>,
    #[schema(schema_with = schema::message_body, required = true)]
    message: Option<Value>,
}

/// Both the success and the error answer of `POST /sms`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsResponse {
    #[schema(example = "Your SMS is being handled")]
    message: String,
    /// `ok` or `error`.
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Debug)]
pub struct SmsError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for SmsError {
    fn into_response(self) -> Response {
        (self.status, Json(SmsResponse { message: self.message, status: "error" })).into_response()
    }
}

impl From<ApiError> for SmsError {
    fn from(error: ApiError) -> Self {
        // A well-formed JSON body of the wrong shape is a bad request in this contract
        // (a reused idempotency key stays a 422).
        let status =
            if error.status == StatusCode::UNPROCESSABLE_ENTITY && error.code == ErrorCode::ValidationError {
                StatusCode::BAD_REQUEST
            } else {
                error.status
            };
        Self { status, message: error.message }
    }
}

fn invalid(field: &str, value: Option<&Value>, reason: &str) -> SmsError {
    let shown = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    SmsError {
        status: StatusCode::BAD_REQUEST,
        message: format!("'{field}' field '{shown}' is invalid: '{reason}'"),
    }
}

fn message_rule() -> String {
    format!("Must be a non-empty text of at most {} characters", MessageBody::MAX_CHARS)
}

fn parse_request(request: &SmsRequest) -> Result<SmsDraft, SmsError> {
    const RECIPIENT_RULE: &str =
        "Must be a phone number in international format, as digits, e.g. 31612345678";
    let recipient = &request.recipient;
    let to = match recipient {
        Some(number @ Value::Number(_)) => json_integer(number)
            .and_then(|n| u64::try_from(n).ok())
            .and_then(|n| PhoneNumber::from_number(n).ok()),
        Some(Value::String(s)) => PhoneNumber::parse(s).ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("recipient", recipient.as_ref(), RECIPIENT_RULE))?;

    let originator = &request.originator;
    let from = match originator {
        Some(Value::String(s)) => SenderId::parse(s).map_err(|e| e.to_string()),
        _ => Err(herald_domain::sender::SenderIdError.to_string()),
    }
    .map_err(|reason| invalid("originator", originator.as_ref(), &reason))?;

    let message = &request.message;
    let body = match message {
        Some(Value::String(s)) => MessageBody::parse(s).ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("message", message.as_ref(), &message_rule()))?;

    Ok(SmsDraft { to, from: Some(from), body, user_id: None, tags: Default::default() })
}

/// Accept an SMS for delivery.
///
/// Answers only once the message is durably stored; delivery happens in the background,
/// with retries.
#[utoipa::path(
    post,
    path = "/sms",
    tag = "sms-processor",
    request_body(content = SmsRequest, example = json!({"recipient": 31633450007u64, "originator": "MB", "message": "This is a test message."})),
    responses(
        (status = 200, description = "Stored; it will be sent", body = SmsResponse,
         example = json!({"message": "Your SMS is being handled", "status": "ok"})),
        (status = 400, description = "Invalid or missing field, malformed JSON, or an invalid Idempotency-Key", body = SmsResponse,
         example = json!({"message": "'originator' field '' is invalid: 'Must be a phone number or an alpha numeric shorter or equal to 11 characters'", "status": "error"})),
        (status = 401, description = "Missing, unknown or revoked API key", body = SmsResponse),
        (status = 413, description = "Body too large", body = SmsResponse),
        (status = 415, description = "Not JSON", body = SmsResponse),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = SmsResponse),
        (status = 422, description = "Idempotency-Key reused with a different request (`IDEMPOTENCY_KEY_REUSED`)", body = SmsResponse),
    ),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and request return the first response; kept idempotency.retention_hours (24 by default)")),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn send_sms(
    State(state): State<AppState>,
    auth: Result<Authenticated, ApiError>,
    idempotency: Result<IdempotencyHeader, ApiError>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, SmsError> {
    let auth = auth?;
    let IdempotencyHeader(key) = idempotency?;
    let Json(raw) = body.map_err(|rejection| SmsError::from(ApiError::from_json_rejection(&rejection)))?;
    let request: SmsRequest = from_json_value(&raw)?;
    let draft = parse_request(&request)?;
    let idempotent = key.map(|key| IdempotentRequest { key, fingerprint: fingerprint("POST", "/sms", &raw) });
    let respond = |_: &Accepted| (StatusCode::OK.as_u16(), ok_body());
    let outcome = state
        .intake
        .accept_sms(auth.account_id, draft, idempotent.as_ref().map(|r| (r, &respond as Respond<'_>)))
        .await
        .map_err(ApiError::from)?;
    Ok(match outcome {
        IntakeOutcome::Accepted(_) => replayable_response(StatusCode::OK.as_u16(), ok_body()),
        IntakeOutcome::Replayed { status, body } => replayed_response(status, body),
    })
}

fn ok_body() -> String {
    serde_json::to_string(&SmsResponse { message: "Your SMS is being handled".into(), status: "ok" })
        .unwrap_or_default()
}
