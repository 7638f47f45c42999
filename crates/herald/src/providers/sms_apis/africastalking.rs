//! Africa's Talking's SMS API.
//!
//! Send: `POST {base}/version1/messaging`, header `apiKey`, `Accept: application/json`,
//! form-encoded `username`, `to`, `message` and `from` (a sender id or short code, when the
//! message has one). The API takes no client reference. The answer lists each recipient
//! with a `statusCode`: 100-102 accepted (its `messageId` kept); 401 (risk hold), 405
//! (insufficient balance), 500 and 501 (internal or gateway error) retried; 403
//! (`InvalidPhoneNumber`) and 404 (`UnsupportedNumberType`) an invalid recipient; the rest
//! (`InvalidSenderId`, `UserInBlacklist`, `CouldNotRoute`, `DoNotDisturbRejection`,
//! `RejectedByGateway`) permanent.
//!
//! Receipts: delivery reports, form-encoded `id` (the `messageId`), `status` (`Success`
//! delivered; `Failed`, `Rejected`, `AbsentSubscriber`, `Expired` undelivered, with
//! `failureReason`) and `phoneNumber`. They are not signed: the callback URL set in Africa's
//! Talking's dashboard carries herald's `webhook_token`.

use serde::Deserialize;

use super::{form_params, param, required, Answer, ReceiptError, ReceiptRequest};
use crate::{
    config::AfricasTalkingConfig,
    model::{DeliveryOutcome, DeliveryReceipt, ReceiptKey},
    ports::{Outbound, ProviderError},
};

pub(super) fn request(
    client: &reqwest::Client,
    config: &AfricasTalkingConfig,
    message: &Outbound<'_>,
) -> reqwest::RequestBuilder {
    let url = format!("{}/version1/messaging", config.base_url().trim_end_matches('/'));
    let mut form =
        vec![("username", config.username.as_str()), ("to", message.to.as_str()), ("message", message.text)];
    if let Some(from) = message.from {
        form.push(("from", from));
    }
    client
        .post(url)
        .header("apiKey", config.api_key.as_ref().map_or("", |k| k.expose()))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
}

#[derive(Deserialize)]
struct Sent {
    #[serde(rename = "SMSMessageData")]
    data: MessageData,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(rename = "Message", default)]
    message: String,
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: u32,
    #[serde(default)]
    status: String,
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
}

pub(super) fn read_answer(answer: &Answer) -> Result<Option<String>, ProviderError> {
    if !answer.status.is_success() {
        let reason = format!("Africa's Talking (HTTP {}): {}", answer.status.as_u16(), answer.quoted());
        return Err(answer.refusal(reason));
    }
    let sent: Sent = serde_json::from_str(&answer.body).map_err(|_| answer.unreadable("Africa's Talking"))?;
    // One message, one recipient.
    let Some(recipient) = sent.data.recipients.first() else {
        return Err(ProviderError::Permanent {
            reason: format!("Africa's Talking: no recipient accepted: {}", super::quote(&sent.data.message)),
        });
    };
    let code = recipient.status_code;
    let reason = format!("Africa's Talking {code}: {}", super::quote(&recipient.status));
    match code {
        100..=102 => Ok(recipient.message_id.clone().filter(|id| !id.is_empty() && id != "None")),
        401 | 405 | 500 | 501 => Err(ProviderError::Retryable { reason, retry_after: answer.retry_after }),
        403 | 404 => Err(ProviderError::RecipientInvalid { reason }),
        _ => Err(ProviderError::Permanent { reason }),
    }
}

pub(super) fn receipts(request: &ReceiptRequest<'_>) -> Result<Vec<DeliveryReceipt>, ReceiptError> {
    let params = form_params(request.body);
    let id = required(&params, "id")?;
    let status = required(&params, "status")?;
    let outcome = match status {
        "Success" => Some(DeliveryOutcome::Delivered),
        "Failed" | "Rejected" | "AbsentSubscriber" | "Expired" => {
            let code = param(&params, "failureReason").map(str::to_owned);
            let reason = format!(
                "Africa's Talking: {status}{}",
                code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
            );
            Some(DeliveryOutcome::Undelivered { code, reason })
        }
        "Sent" | "Submitted" | "Buffered" => None,
        other => return Err(ReceiptError::Malformed(format!("unknown status \"{}\"", super::quote(other)))),
    };
    Ok(vec![DeliveryReceipt {
        key: ReceiptKey::Provider(id.to_owned()),
        provider_status: status.to_owned(),
        outcome,
    }])
}
