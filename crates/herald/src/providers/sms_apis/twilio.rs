//! Twilio Programmable Messaging.
//!
//! Send: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic
//! (`AccountSid:AuthToken`), form-encoded `To`, `Body`, `From` (or `MessagingServiceSid`) and
//! `StatusCallback`. Twilio takes no client reference. A 201 carries the message `sid`; an
//! error `{"code", "message", "status"}` with Twilio's error code: 20429 or HTTP 429 and 5xx
//! are retried, 21211 and 21614 (the number is invalid or not a mobile) fail as an invalid
//! recipient, every other code fails permanently.
//!
//! Receipts: Twilio's status callback, form-encoded `MessageSid`, `MessageStatus` and, when
//! it failed, `ErrorCode`; signed in `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with
//! the auth token, over the URL Twilio called followed by every parameter's name and value,
//! sorted by name.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use super::{form_params, param, required, Answer, ReceiptError, ReceiptRequest};
use crate::{
    config::TwilioConfig,
    model::{DeliveryOutcome, DeliveryReceipt, ReceiptKey},
    ports::{Outbound, ProviderError},
};

pub(super) fn request(
    client: &reqwest::Client,
    config: &TwilioConfig,
    message: &Outbound<'_>,
    status_callback: Option<&str>,
) -> reqwest::RequestBuilder {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        config.base_url().trim_end_matches('/'),
        config.account_sid
    );
    let mut form = vec![("To", message.to.as_str()), ("Body", message.text)];
    match (message.from, &config.messaging_service_sid) {
        (Some(from), _) => form.push(("From", from)),
        (None, Some(service)) => form.push(("MessagingServiceSid", service)),
        // Twilio answers 21603 ("A 'From' phone number is required"), a permanent failure.
        (None, None) => {}
    }
    if let Some(callback) = status_callback {
        form.push(("StatusCallback", callback));
    }
    client
        .post(url)
        .basic_auth(&config.account_sid, config.auth_token.as_ref().map(|t| t.expose()))
        .form(&form)
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
}

pub(super) fn read_answer(answer: &Answer) -> Result<Option<String>, ProviderError> {
    if answer.status.is_success() {
        let created: Created = serde_json::from_str(&answer.body).map_err(|_| answer.unreadable("Twilio"))?;
        return Ok(Some(created.sid));
    }
    let Ok(TwilioError { code: Some(code), message }) = serde_json::from_str(&answer.body) else {
        return Err(answer.unreadable("Twilio"));
    };
    let reason = format!(
        "Twilio {code} (HTTP {}): {}",
        answer.status.as_u16(),
        super::quote(message.as_deref().unwrap_or("no message"))
    );
    Err(match code {
        20429 => ProviderError::Retryable { reason, retry_after: answer.retry_after },
        _ if answer.is_retryable_status() => {
            ProviderError::Retryable { reason, retry_after: answer.retry_after }
        }
        // Invalid 'To' number; not a mobile number.
        21211 | 21614 => ProviderError::RecipientInvalid { reason },
        _ => ProviderError::Permanent { reason },
    })
}

/// The signature Twilio puts in `X-Twilio-Signature` for a form POST to `url`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(super) fn receipts(
    config: &TwilioConfig,
    request: &ReceiptRequest<'_>,
) -> Result<Vec<DeliveryReceipt>, ReceiptError> {
    let params = form_params(request.body);
    let given = request
        .headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ReceiptError::Unauthenticated("no X-Twilio-Signature".into()))?;
    let token = config.auth_token.as_ref().map_or("", |t| t.expose());
    let expected = signature(token, request.url, &params);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
        return Err(ReceiptError::Unauthenticated("X-Twilio-Signature does not match".into()));
    }
    let sid = required(&params, "MessageSid")?;
    let status = required(&params, "MessageStatus")?;
    let outcome = match status {
        "delivered" => Some(DeliveryOutcome::Delivered),
        "undelivered" | "failed" => {
            let code = param(&params, "ErrorCode").map(str::to_owned);
            let reason = match &code {
                Some(code) => format!("Twilio {code}: {status}"),
                None => format!("Twilio: {status}"),
            };
            Some(DeliveryOutcome::Undelivered { code, reason })
        }
        "accepted"
        | "scheduled"
        | "queued"
        | "sending"
        | "sent"
        | "read"
        | "canceled"
        | "receiving"
        | "received"
        | "partially_delivered" => None,
        other => {
            return Err(ReceiptError::Malformed(format!("unknown MessageStatus \"{}\"", super::quote(other))))
        }
    };
    Ok(vec![DeliveryReceipt {
        key: ReceiptKey::Provider(sid.to_owned()),
        provider_status: status.to_owned(),
        outcome,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Twilio's security documentation ("Validating requests"): its auth
    /// token, URL and parameters give the signature it prints (and that Twilio's own
    /// Python library's `RequestValidator.compute_signature` gives).
    #[test]
    fn signs_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }
}
