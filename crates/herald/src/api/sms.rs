//! `POST /sms`, the sms-processor contract, kept word for word: its request body
//! (`recipient` as a JSON number), its `{"message", "status"}` answers and its own error
//! shape.

use axum::{
    extract::{rejection::JsonRejection, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use herald_domain::{MessageBody, PhoneNumber, SenderId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{auth::Authenticated, error::ApiError, AppState};
use crate::services::intake::SmsDraft;

pub fn router() -> Router<AppState> {
    Router::new().route("/sms", post(send_sms))
}

/// Fields are loose JSON values so that a missing or mistyped field gets the contract's
/// `'<field>' field '<value>' is invalid: '<reason>'` message rather than a serde error.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    /// Recipient in international form, digits only, as a JSON number (a string is also accepted).
    #[schema(value_type = u64, example = 31633450007u64)]
    recipient: Option<Value>,
    /// A phone number, or an alphanumeric name of at most 11 characters.
    #[schema(value_type = String, example = "MB")]
    originator: Option<Value>,
    /// The text to send.
    #[schema(value_type = String, example = "This is a test message.")]
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
        (
            self.status,
            Json(SmsResponse {
                message: self.message,
                status: "error",
            }),
        )
            .into_response()
    }
}

impl From<ApiError> for SmsError {
    fn from(error: ApiError) -> Self {
        // A well-formed JSON body of the wrong shape is a bad request in this contract.
        let status = if error.status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            error.status
        };
        Self {
            status,
            message: error.message,
        }
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
    format!(
        "Must be a non-empty text of at most {} characters",
        MessageBody::MAX_CHARS
    )
}

fn parse_request(request: &SmsRequest) -> Result<SmsDraft, SmsError> {
    const RECIPIENT_RULE: &str =
        "Must be a phone number in international format, as digits, e.g. 31612345678";
    let recipient = &request.recipient;
    let to = match recipient {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| PhoneNumber::from_number(n).ok()),
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

    Ok(SmsDraft {
        to,
        from,
        body,
        user_id: None,
    })
}

/// Accept an SMS for delivery.
///
/// Answers only once the message is durably stored; delivery happens in the background,
/// with retries.
#[utoipa::path(
    post,
    path = "/sms",
    tag = "sms-processor",
    request_body = SmsRequest,
    responses(
        (status = 200, description = "Stored; it will be sent", body = SmsResponse,
         example = json!({"message": "Your SMS is being handled", "status": "ok"})),
        (status = 400, description = "Invalid field", body = SmsResponse,
         example = json!({"message": "'originator' field '' is invalid: 'Must be a phone number or an alpha numeric shorter or equal to 11 characters'", "status": "error"})),
        (status = 401, description = "Missing, unknown or revoked API key", body = SmsResponse),
        (status = 413, description = "Body too large", body = SmsResponse),
        (status = 415, description = "Not JSON", body = SmsResponse),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn send_sms(
    State(state): State<AppState>,
    auth: Result<Authenticated, ApiError>,
    body: Result<Json<SmsRequest>, JsonRejection>,
) -> Result<Json<SmsResponse>, SmsError> {
    let auth = auth?;
    let Json(request) =
        body.map_err(|rejection| SmsError::from(ApiError::from_json_rejection(&rejection)))?;
    let draft = parse_request(&request)?;
    state
        .intake
        .accept_sms(auth.account_id, draft)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(SmsResponse {
        message: "Your SMS is being handled".into(),
        status: "ok",
    }))
}
