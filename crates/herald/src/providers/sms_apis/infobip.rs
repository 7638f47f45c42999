//! Infobip's SMS API.
//!
//! Send: `POST {base}/sms/2/text/advanced`, `Authorization: App <api key>`, JSON
//! `{"messages": [{"destinations": [{"to", "messageId"}], "from", "text", "notifyUrl",
//! "notifyContentType", "callbackData"}]}`: herald's message id is the `messageId` (so
//! receipts name herald's id) and the `callbackData`. A 200 lists each message with a
//! status whose group says what happened: `PENDING` (1) and `DELIVERED` (3) accepted;
//! `REJECTED` (5) for lack of credit (`REJECTED_NOT_ENOUGH_CREDITS`) retried, for the
//! destination or its prefix an invalid recipient, otherwise permanent; `UNDELIVERABLE` (2)
//! and `EXPIRED` (4) permanent. A request error (`{"requestError": {"serviceException":
//! {"messageId", "text"}}}`) is retried on 429 and 5xx, permanent otherwise.
//!
//! Receipts: delivery reports, `{"results": [{"messageId", "callbackData", "status":
//! {"groupName", "name"}, "error": {"name", "description"}}]}`; group `DELIVERED`
//! delivered, `UNDELIVERABLE`, `EXPIRED` and `REJECTED` undelivered (with the error's
//! name), `PENDING` on the way. Infobip does not sign them: the `notifyUrl` herald gives
//! carries the webhook token.

use serde::Deserialize;
use serde_json::json;

use super::{digits, Answer, ReceiptError, ReceiptRequest};
use crate::{
    config::InfobipConfig,
    model::{DeliveryOutcome, DeliveryReceipt, ReceiptKey},
    ports::{Outbound, ProviderError},
};

pub(super) fn request(
    client: &reqwest::Client,
    config: &InfobipConfig,
    message: &Outbound<'_>,
    notify_url: Option<&str>,
) -> reqwest::RequestBuilder {
    let url = format!("{}/sms/2/text/advanced", config.base_url.trim_end_matches('/'));
    let id = message.message_id.to_string();
    let mut sms = json!({
        "destinations": [{"to": digits(message.to.as_str()), "messageId": id}],
        "text": message.text,
        "callbackData": id,
    });
    if let Some(from) = message.from {
        // A number sender in international form without '+', as Infobip writes numbers.
        sms["from"] = json!(digits(from));
    }
    if let Some(notify_url) = notify_url {
        sms["notifyUrl"] = json!(notify_url);
        sms["notifyContentType"] = json!("application/json");
    }
    client
        .post(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("App {}", config.api_key.as_ref().map_or("", |k| k.expose())),
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&json!({ "messages": [sms] }))
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
    status: Status,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(rename = "groupName", default)]
    group_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct RequestError {
    #[serde(rename = "requestError")]
    request_error: ServiceError,
}

#[derive(Deserialize)]
struct ServiceError {
    #[serde(rename = "serviceException")]
    exception: Exception,
}

#[derive(Deserialize)]
struct Exception {
    #[serde(rename = "messageId", default)]
    id: String,
    #[serde(default)]
    text: String,
}

pub(super) fn read_answer(answer: &Answer) -> Result<Option<String>, ProviderError> {
    if !answer.status.is_success() {
        let Ok(error) = serde_json::from_str::<RequestError>(&answer.body) else {
            return Err(answer.unreadable("Infobip"));
        };
        let e = error.request_error.exception;
        let reason = format!("Infobip {} (HTTP {}): {}", e.id, answer.status.as_u16(), super::quote(&e.text));
        return Err(answer.refusal(reason));
    }
    let sent: Sent = serde_json::from_str(&answer.body).map_err(|_| answer.unreadable("Infobip"))?;
    let Some(message) = sent.messages.into_iter().next() else {
        return Err(answer.unreadable("Infobip"));
    };
    let status = message.status;
    let reason = format!("Infobip {}: {}", status.name, super::quote(&status.description));
    match status.group_name.as_str() {
        "PENDING" | "DELIVERED" => Ok(message.message_id),
        "REJECTED" if status.name == "REJECTED_NOT_ENOUGH_CREDITS" => {
            Err(ProviderError::Retryable { reason, retry_after: answer.retry_after })
        }
        "REJECTED" if matches!(status.name.as_str(), "REJECTED_DESTINATION" | "REJECTED_PREFIX_MISSING") => {
            Err(ProviderError::RecipientInvalid { reason })
        }
        _ => Err(ProviderError::Permanent { reason }),
    }
}

#[derive(Deserialize)]
struct Reports {
    results: Vec<Report>,
}

#[derive(Deserialize)]
struct Report {
    #[serde(rename = "messageId")]
    message_id: String,
    #[serde(rename = "callbackData", default)]
    callback_data: Option<String>,
    status: Status,
    #[serde(default)]
    error: Option<Status>,
}

pub(super) fn receipts(request: &ReceiptRequest<'_>) -> Result<Vec<DeliveryReceipt>, ReceiptError> {
    let reports: Reports = serde_json::from_slice(request.body)
        .map_err(|e| ReceiptError::Malformed(format!("not an Infobip delivery report: {e}")))?;
    if reports.results.is_empty() {
        return Err(ReceiptError::Malformed("the delivery report has no results".into()));
    }
    reports.results.into_iter().map(receipt).collect()
}

fn receipt(report: Report) -> Result<DeliveryReceipt, ReceiptError> {
    // herald gave its own id as the messageId (and the callbackData).
    let herald_id = [Some(&report.message_id), report.callback_data.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|id| id.parse().ok());
    let key = match herald_id {
        Some(id) => ReceiptKey::Herald(id),
        None => ReceiptKey::Provider(report.message_id.clone()),
    };
    let status = report.status;
    let outcome = match status.group_name.as_str() {
        "DELIVERED" => Some(DeliveryOutcome::Delivered),
        "UNDELIVERABLE" | "EXPIRED" | "REJECTED" => {
            let error = report.error.unwrap_or_default();
            let code = if error.name.is_empty() { status.name.clone() } else { error.name };
            let reason = format!("Infobip {}: {code}", status.name);
            Some(DeliveryOutcome::Undelivered { code: Some(code), reason })
        }
        "PENDING" | "ACCEPTED" => None,
        other => {
            return Err(ReceiptError::Malformed(format!("unknown status group \"{}\"", super::quote(other))))
        }
    };
    Ok(DeliveryReceipt { key, provider_status: status.name, outcome })
}
