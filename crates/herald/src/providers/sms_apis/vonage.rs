//! Vonage's SMS API.
//!
//! Send: `POST {base}/sms/json`, form-encoded `api_key`, `api_secret`, `from`, `to` (the
//! number without `+`), `text`, `type` (`unicode` for a text that is not GSM-7, which Vonage
//! would otherwise garble), `client-ref` (herald's message id, echoed in receipts) and,
//! with a `public_url`, `callback` and `status-report-req`. Vonage answers 200 with a
//! status per message part: `0` accepted (the first part's `message-id` kept); `1`
//! (throttled), `5` (internal error), `9` (quota: out of credit) and `10` (too many binds)
//! retried; `7` (number barred) and `33` (number de-activated) an invalid recipient; every
//! other status permanent, with its `error-text`.
//!
//! Receipts (DLRs): `messageId`, `status` (`delivered`; `expired`, `failed`, `rejected`
//! undelivered, with `err-code`), `client-ref`, form-encoded or JSON. With a signature
//! secret they must carry `sig` (and a `timestamp` within five minutes): every other
//! parameter sorted by name as `&name=value` (`&` and `=` in values replaced by `_`), then
//! MD5 over that and the secret (`md5hash`), or an HMAC keyed with the secret (`md5`,
//! `sha1`, `sha256`, `sha512`), in hex. Without one, the receipt URL carries the webhook
//! token.

use hmac::{Hmac, Mac};
use serde::Deserialize;

use super::{digits, form_params, is_json, param, required, Answer, ReceiptError, ReceiptRequest};
use crate::{
    config::{VonageConfig, VonageSignatureMethod},
    model::{DeliveryOutcome, DeliveryReceipt, ReceiptKey},
    ports::{Outbound, ProviderError},
};

/// How far a signed receipt's `timestamp` may be from now.
const SIGNATURE_WINDOW_SECS: i64 = 300;

pub(super) fn request(
    client: &reqwest::Client,
    config: &VonageConfig,
    message: &Outbound<'_>,
    callback: Option<&str>,
) -> reqwest::RequestBuilder {
    let url = format!("{}/sms/json", config.base_url().trim_end_matches('/'));
    let reference = message.message_id.to_string();
    let encoding = herald_domain::sms_length(message.text).encoding;
    let mut form = vec![
        ("api_key", config.api_key.as_str()),
        ("api_secret", config.api_secret.as_ref().map_or("", |s| s.expose())),
        ("to", digits(message.to.as_str())),
        ("text", message.text),
        ("type", if encoding == herald_domain::SmsEncoding::Gsm7 { "text" } else { "unicode" }),
        ("client-ref", &reference),
    ];
    // Vonage requires a sender; without one it answers status 2 (missing parameters).
    if let Some(from) = message.from {
        form.push(("from", digits(from)));
    }
    if let Some(callback) = callback {
        form.push(("callback", callback));
        form.push(("status-report-req", "1"));
    }
    client.post(url).form(&form)
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    status: String,
    #[serde(rename = "message-id", default)]
    message_id: Option<String>,
    #[serde(rename = "error-text", default)]
    error_text: Option<String>,
}

pub(super) fn read_answer(answer: &Answer) -> Result<Option<String>, ProviderError> {
    if !answer.status.is_success() {
        return Err(answer.unreadable("Vonage"));
    }
    let sent: Sent = serde_json::from_str(&answer.body).map_err(|_| answer.unreadable("Vonage"))?;
    let Some(failed) = sent.messages.iter().find(|part| part.status != "0") else {
        return match sent.messages.first() {
            Some(first) => Ok(first.message_id.clone()),
            None => Err(answer.unreadable("Vonage")),
        };
    };
    let code = failed.status.as_str();
    let reason =
        format!("Vonage {code}: {}", super::quote(failed.error_text.as_deref().unwrap_or("no error-text")));
    Err(match code {
        "1" | "5" | "9" | "10" => ProviderError::Retryable { reason, retry_after: answer.retry_after },
        "7" | "33" => ProviderError::RecipientInvalid { reason },
        _ => ProviderError::Permanent { reason },
    })
}

/// Vonage's `sig` over `params` (every receipt parameter but `sig`), lower-case hex.
pub fn signature(method: VonageSignatureMethod, secret: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (name, value) in sorted {
        text.push('&');
        text.push_str(name);
        text.push('=');
        text.push_str(&value.replace(['&', '='], "_"));
    }
    fn hmac_hex<M: Mac + hmac::digest::KeyInit>(secret: &str, text: &str) -> String {
        let mut mac =
            <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
    match method {
        VonageSignatureMethod::Md5hash => {
            use md5::Digest;
            hex::encode(md5::Md5::digest(format!("{text}{secret}").as_bytes()))
        }
        VonageSignatureMethod::Md5 => hmac_hex::<Hmac<md5::Md5>>(secret, &text),
        VonageSignatureMethod::Sha1 => hmac_hex::<Hmac<sha1::Sha1>>(secret, &text),
        VonageSignatureMethod::Sha256 => hmac_hex::<Hmac<sha2::Sha256>>(secret, &text),
        VonageSignatureMethod::Sha512 => hmac_hex::<Hmac<sha2::Sha512>>(secret, &text),
    }
}

/// A receipt's parameters, from a form or a JSON object (numbers as their text).
fn params(request: &ReceiptRequest<'_>) -> Result<Vec<(String, String)>, ReceiptError> {
    if !is_json(request.headers) {
        return Ok(form_params(request.body));
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(request.body)
        .map_err(|e| ReceiptError::Malformed(format!("the receipt is not a JSON object: {e}")))?;
    Ok(object
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect())
}

pub(super) fn receipts(
    config: &VonageConfig,
    request: &ReceiptRequest<'_>,
) -> Result<Vec<DeliveryReceipt>, ReceiptError> {
    let params = params(request)?;
    match &config.signature_secret {
        Some(secret) => {
            let given =
                param(&params, "sig").ok_or_else(|| ReceiptError::Unauthenticated("no sig".into()))?;
            let expected = signature(config.signature_method, secret.expose(), &params);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                given.to_lowercase().as_bytes(),
                expected.as_bytes(),
            )) {
                return Err(ReceiptError::Unauthenticated("sig does not match".into()));
            }
            let timestamp = param(&params, "timestamp").and_then(|t| t.parse::<i64>().ok());
            if timestamp.is_none_or(|t| (chrono::Utc::now().timestamp() - t).abs() > SIGNATURE_WINDOW_SECS) {
                return Err(ReceiptError::Unauthenticated(
                    "the signed timestamp is missing or too old".into(),
                ));
            }
        }
        None => super::check_token(config.webhook_token.as_ref(), request)?,
    }
    let status = required(&params, "status")?;
    let key = match param(&params, "client-ref").and_then(|r| r.parse().ok()) {
        Some(id) => ReceiptKey::Herald(id),
        None => ReceiptKey::Provider(required(&params, "messageId")?.to_owned()),
    };
    let outcome = match status {
        "delivered" => Some(DeliveryOutcome::Delivered),
        "expired" | "failed" | "rejected" => {
            let code = param(&params, "err-code").map(str::to_owned);
            let reason = format!("Vonage: {status} (err-code {})", code.as_deref().unwrap_or("none"));
            Some(DeliveryOutcome::Undelivered { code, reason })
        }
        "accepted" | "buffered" | "unknown" => None,
        other => return Err(ReceiptError::Malformed(format!("unknown status \"{}\"", super::quote(other)))),
    };
    Ok(vec![DeliveryReceipt { key, provider_status: status.to_owned(), outcome }])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signatures that Vonage's own Python library (`vonage` 3.17, `Client.signature`) gives
    /// for these parameters: `md5hash`, and the SHA-256 HMAC. A value with `&` and `=` shows
    /// that they are replaced before signing.
    #[test]
    fn signs_as_vonages_library_does() {
        let params: Vec<(String, String)> = [
            ("msisdn", "447700900001"),
            ("to", "AcmeInc"),
            ("messageId", "0A0000000123ABCD1"),
            ("status", "delivered"),
            ("err-code", "0"),
            ("client-ref", "a&b=c"),
            ("timestamp", "1733400000"),
            ("nonce", "n-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let secret = "my-signature-secret";
        assert_eq!(
            signature(VonageSignatureMethod::Md5hash, secret, &params),
            "75c87210594711fa5a464465bc638f0f"
        );
        assert_eq!(
            signature(VonageSignatureMethod::Sha256, secret, &params),
            "35914c80951309744738b6af6b6b326ba2f9cbc7154282c15f00e68cf82b31f2"
        );
        let mut signed = params;
        signed.push(("sig".into(), "ignored".into()));
        assert_eq!(
            signature(VonageSignatureMethod::Md5hash, secret, &signed),
            "75c87210594711fa5a464465bc638f0f"
        );
    }
}
