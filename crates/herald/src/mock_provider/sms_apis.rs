//! The mock speaking the SMS API presets' wire formats, each at its provider's own path:
//!
//! - `twilio`: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, HTTP Basic
//!   whose user is the path's account SID; `201 {"sid": "SM...", "status": "queued"}`
//! - `africastalking`: `POST /version1/messaging`, form-encoded, header `apiKey`, `Accept:
//!   application/json`; `201 {"SMSMessageData": {"Recipients": [{"statusCode": 101, ...}]}}`
//! - `vonage`: `POST /sms/json`, form-encoded `api_key`, `api_secret`;
//!   `200 {"messages": [{"status": "0", "message-id", "client-ref"}]}`
//! - `infobip`: `POST /sms/2/text/advanced`, JSON, `Authorization: App <key>`;
//!   `200 {"messages": [{"status": {"groupName": "PENDING", ...}, "messageId"}]}`
//!
//! Each checks what herald sent (authentication, required fields, numbers in the format the
//! API wants, Vonage's `type=unicode` for a text that is not GSM-7) and answers a mistake as
//! the provider would. A secret (auth token, API key, API secret) of `wrong` is refused as
//! bad credentials; a number ending in `0001` is refused as invalid, the way each provider
//! refuses it. The knobs answer in the provider's own shape: throttling as Twilio's 20429,
//! an HTTP 429, Vonage's status 1; failures as a 500, Africa's Talking's recipient status
//! 500, Vonage's status 5.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use super::{inject, record, Format, InFlight, Injected, MockState, Received};

/// Numbers ending in this are refused as invalid, by every format.
pub const INVALID_NUMBER_SUFFIX: &str = "0001";
/// The secret every format refuses as bad credentials.
pub const WRONG_SECRET: &str = "wrong";

pub(super) fn routes(format: Format) -> Router<Arc<MockState>> {
    let path = send_path(format).trim_start_matches("POST ");
    match format {
        Format::Twilio => Router::new().route(path, post(twilio)),
        Format::Africastalking => Router::new().route(path, post(africastalking)),
        Format::Vonage => Router::new().route(path, post(vonage)),
        Format::Infobip => Router::new().route(path, post(infobip)),
        Format::Herald => Router::new(),
    }
}

/// Where a format takes a message, for the start-up banner.
pub fn send_path(format: Format) -> &'static str {
    match format {
        Format::Herald => "POST /messages   POST /v1/projects/{p}/messages:send (FCM)",
        Format::Twilio => "POST /2010-04-01/Accounts/{sid}/Messages.json",
        Format::Africastalking => "POST /version1/messaging",
        Format::Vonage => "POST /sms/json",
        Format::Infobip => "POST /sms/2/text/advanced",
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn header(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|digits| (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn is_bare_number(number: &str) -> bool {
    (8..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit())
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

#[derive(Default)]
struct Accepted<'a> {
    id: String,
    reference: Option<String>,
    to: &'a str,
    from: Option<&'a str>,
    text: &'a str,
    account: Option<&'a str>,
    status_callback: Option<&'a str>,
    encoding: Option<&'a str>,
}

fn keep(state: &MockState, accepted: Accepted<'_>) {
    record(
        state,
        Received {
            id: accepted.id,
            reference: accepted.reference,
            to: accepted.to.to_owned(),
            from: accepted.from.map(str::to_owned),
            body_chars: accepted.text.chars().count(),
            received_at: Utc::now(),
            channel: None,
            title: None,
            data: None,
            account: accepted.account.map(str::to_owned),
            status_callback: accepted.status_callback.map(str::to_owned),
            encoding: accepted.encoding.map(str::to_owned),
        },
    );
}

fn retry_after(secs: u64) -> [(header::HeaderName, String); 1] {
    [(header::RETRY_AFTER, secs.to_string())]
}

// Twilio.

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "status": status.as_u16(),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}")})),
    )
        .into_response()
}

/// HTTP Basic's user and password.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = header(headers, header::AUTHORIZATION)?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let (user, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((user, password))
}

async fn twilio(
    State(state): State<Arc<MockState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&state);
    match inject(&state).await {
        Some(Injected::Dropped(response)) => return response,
        Some(Injected::Throttled { retry_after_secs }) => {
            let mut response = twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            response
                .headers_mut()
                .extend(retry_after(retry_after_secs).map(|(k, v)| (k, v.parse().expect("digits"))));
            return response;
        }
        Some(Injected::Failed) => {
            return twilio_error(StatusCode::INTERNAL_SERVER_ERROR, 20500, "Internal Server Error")
        }
        None => {}
    }
    let authenticated = basic_auth(&headers)
        .is_some_and(|(user, token)| user == sid && !token.is_empty() && token != WRONG_SECRET);
    if !authenticated {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    let Some(to) = field(&form, "To") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    };
    let Some(text) = field(&form, "Body") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    let from = field(&form, "From").or(field(&form, "MessagingServiceSid"));
    if from.is_none() {
        return twilio_error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    }
    if !is_e164(to) || to.ends_with(INVALID_NUMBER_SUFFIX) {
        return twilio_error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
    }
    let id = new_id("SM");
    let callback = field(&form, "StatusCallback");
    keep(
        &state,
        Accepted {
            id: id.clone(),
            to,
            from,
            text,
            account: Some(&sid),
            status_callback: callback,
            ..Default::default()
        },
    );
    let segments = herald_domain::sms_length(text).segments;
    (
        StatusCode::CREATED,
        Json(json!({"sid": id, "account_sid": sid, "to": to, "from": from, "body": text,
        "status": "queued", "num_segments": segments.to_string(), "api_version": "2010-04-01"})),
    )
        .into_response()
}

// Africa's Talking.

fn at_recipients(to: &str, code: u32, status: &str, id: Option<&str>) -> Response {
    let sent = u32::from(code <= 102);
    (
        StatusCode::CREATED,
        Json(json!({"SMSMessageData": {
        "Message": format!("Sent to {sent}/1 Total Cost: KES {}", if sent == 1 { "0.8000" } else { "0" }),
        "Recipients": [{"statusCode": code, "number": to, "status": status,
            "cost": if sent == 1 { "KES 0.8000" } else { "0" }, "messageId": id.unwrap_or("None")}]}})),
    )
        .into_response()
}

async fn africastalking(State(state): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&state);
    let form = form(&body);
    let to = field(&form, "to").unwrap_or_default().to_owned();
    match inject(&state).await {
        Some(Injected::Dropped(response)) => return response,
        Some(Injected::Throttled { retry_after_secs }) => {
            return (StatusCode::TOO_MANY_REQUESTS, retry_after(retry_after_secs), "Too Many Requests")
                .into_response();
        }
        Some(Injected::Failed) => return at_recipients(&to, 500, "InternalServerError", None),
        None => {}
    }
    let key = header(&headers, "apikey");
    if key.is_none_or(|k| k == WRONG_SECRET) {
        return (StatusCode::UNAUTHORIZED, "The supplied authentication is invalid").into_response();
    }
    if header(&headers, header::ACCEPT) != Some("application/json") {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "mock: this mock answers JSON only; send Accept: application/json",
        )
            .into_response();
    }
    let (Some(username), Some(text)) = (field(&form, "username"), field(&form, "message")) else {
        return (StatusCode::BAD_REQUEST, "Request is missing required form field 'username' or 'message'")
            .into_response();
    };
    if !is_e164(&to) || to.ends_with(INVALID_NUMBER_SUFFIX) {
        return at_recipients(&to, 403, "InvalidPhoneNumber", None);
    }
    let id = new_id("ATXid_");
    keep(
        &state,
        Accepted {
            id: id.clone(),
            to: &to,
            from: field(&form, "from"),
            text,
            account: Some(username),
            ..Default::default()
        },
    );
    at_recipients(&to, 101, "Success", Some(&id))
}

// Vonage.

fn vonage_status(status: &str, error_text: &str) -> Response {
    Json(json!({"message-count": "1", "messages": [{"status": status, "error-text": error_text}]}))
        .into_response()
}

async fn vonage(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&state);
    match inject(&state).await {
        Some(Injected::Dropped(response)) => return response,
        Some(Injected::Throttled { .. }) => {
            return vonage_status("1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry")
        }
        Some(Injected::Failed) => return vonage_status("5", "Internal Error"),
        None => {}
    }
    let form = form(&body);
    let (Some(api_key), Some(secret)) = (field(&form, "api_key"), field(&form, "api_secret")) else {
        return vonage_status("2", "Missing api_key or api_secret");
    };
    if secret == WRONG_SECRET {
        return vonage_status("4", "Bad Credentials");
    }
    let (Some(to), Some(from), Some(text)) = (field(&form, "to"), field(&form, "from"), field(&form, "text"))
    else {
        return vonage_status("2", "Missing to, from or text param");
    };
    if !is_bare_number(to) {
        return vonage_status("3", "Invalid to param: a number in international format without a leading +");
    }
    if to.ends_with(INVALID_NUMBER_SUFFIX) {
        return vonage_status("3", "Invalid Message: the number is not valid");
    }
    let encoding = field(&form, "type").unwrap_or("text");
    let gsm7 = herald_domain::sms_length(text).encoding == herald_domain::SmsEncoding::Gsm7;
    if !gsm7 && encoding != "unicode" {
        return vonage_status("3", "mock: the text is not GSM-7, so type must be unicode");
    }
    let reference = field(&form, "client-ref");
    if reference.is_some_and(|r| r.len() > 100) {
        return vonage_status("3", "Invalid client-ref: at most 100 characters");
    }
    let id = new_id("").to_uppercase();
    let callback = field(&form, "callback");
    keep(
        &state,
        Accepted {
            id: id.clone(),
            reference: reference.map(str::to_owned),
            to,
            from: Some(from),
            text,
            account: Some(api_key),
            status_callback: callback,
            encoding: Some(encoding),
        },
    );
    Json(json!({"message-count": "1", "messages": [{"to": to, "message-id": id, "status": "0",
        "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345",
        "client-ref": reference}]}))
    .into_response()
}

// Infobip.

fn infobip_error(status: StatusCode, id: &str, text: &str) -> Response {
    (status, Json(json!({"requestError": {"serviceException": {"messageId": id, "text": text}}})))
        .into_response()
}

fn infobip_status(group_id: u32, group: &str, id: u32, name: &str, description: &str) -> Value {
    json!({"groupId": group_id, "groupName": group, "id": id, "name": name, "description": description})
}

async fn infobip(State(state): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&state);
    match inject(&state).await {
        Some(Injected::Dropped(response)) => return response,
        Some(Injected::Throttled { retry_after_secs }) => {
            let mut response =
                infobip_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "Too many requests");
            response
                .headers_mut()
                .extend(retry_after(retry_after_secs).map(|(k, v)| (k, v.parse().expect("digits"))));
            return response;
        }
        Some(Injected::Failed) => {
            return infobip_error(StatusCode::INTERNAL_SERVER_ERROR, "GENERAL_ERROR", "Something went wrong")
        }
        None => {}
    }
    let key = header(&headers, header::AUTHORIZATION).and_then(|v| v.strip_prefix("App "));
    let Some(key) = key.filter(|k| !k.is_empty() && *k != WRONG_SECRET) else {
        return infobip_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid login details");
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return infobip_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Invalid JSON");
    };
    let message = &request["messages"][0];
    let destination = &message["destinations"][0];
    let (Some(to), Some(text)) = (destination["to"].as_str(), message["text"].as_str()) else {
        return infobip_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "messages[0].destinations[0].to and messages[0].text are required",
        );
    };
    if !is_bare_number(to) || to.ends_with(INVALID_NUMBER_SUFFIX) {
        let status =
            infobip_status(5, "REJECTED", 51, "REJECTED_DESTINATION", "Destination address is not valid");
        return Json(json!({"bulkId": new_id("bulk-"), "messages": [{"to": to, "status": status}]}))
            .into_response();
    }
    let id = destination["messageId"].as_str().map_or_else(|| new_id(""), str::to_owned);
    keep(
        &state,
        Accepted {
            id: id.clone(),
            reference: destination["messageId"].as_str().map(str::to_owned),
            to,
            from: message["from"].as_str(),
            text,
            account: Some(key),
            status_callback: message["notifyUrl"].as_str(),
            ..Default::default()
        },
    );
    let status = infobip_status(1, "PENDING", 26, "PENDING_ACCEPTED", "Message sent to next instance");
    Json(json!({"bulkId": new_id("bulk-"), "messages": [{"to": to, "status": status, "messageId": id}]}))
        .into_response()
}
