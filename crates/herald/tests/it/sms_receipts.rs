//! Delivery receipts at `POST /webhooks/providers/{name}/status`, in each preset's format
//! and signed by each provider's documented algorithm (computed here, independently of
//! herald's code): Twilio's `X-Twilio-Signature`, Vonage's `sig` (MD5 hash), and the
//! webhook token of Africa's Talking and Infobip. A receipt moves a sent message to
//! `delivered` or `undelivered` once, with a timeline entry and an event; anything that is
//! not the provider's changes nothing.

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::Digest;
use serde_json::{json, Value};

use crate::{
    helpers::{on_both_backends, Backend},
    sms_presets::{
        Preset, PresetWorld, PUBLIC_URL, SECRET, TWILIO_SID, VONAGE_SIGNATURE_SECRET, WEBHOOK_TOKEN,
    },
};

on_both_backends!(
    a_receipt_in_each_format_moves_a_sent_message_to_delivered_once,
    an_undelivered_receipt_keeps_the_providers_error_code,
    receipts_that_are_not_the_providers_change_nothing,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Delivered,
    Undelivered,
    /// A status on the way (queued, buffered, pending).
    OnTheWay,
}

/// A receipt as the provider would send it.
struct Receipt {
    /// Path and query, as herald's public URL continues.
    path: String,
    content_type: &'static str,
    body: String,
    signature: Option<(&'static str, String)>,
}

fn form(params: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// Twilio: base64 of HMAC-SHA1 (key: the auth token) over the full URL, then each
/// parameter's name and value, sorted by name.
fn twilio_signature(url: &str, params: &[(&str, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let text: String =
        std::iter::once(url.to_owned()).chain(sorted.iter().map(|(k, v)| format!("{k}{v}"))).collect();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Vonage (`md5hash`): MD5 in hex of `&name=value` for each parameter but `sig`, sorted by
/// name (`&` and `=` in values as `_`), followed by the signature secret.
fn vonage_sig(params: &[(&str, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_by_key(|(k, _)| *k);
    let text: String = sorted.iter().map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_"))).collect();
    hex::encode(md5::Md5::digest(format!("{text}{VONAGE_SIGNATURE_SECRET}").as_bytes()))
}

/// The receipt `preset` sends about `message` (as `GET /api/v1/notifications/{id}` shows it).
fn receipt(preset: Preset, message: &Value, report: Report) -> Receipt {
    let id = message["id"].as_str().unwrap().to_owned();
    let provider_id = message["provider_message_id"].as_str().unwrap_or("unknown").to_owned();
    let to = message["to"].as_str().unwrap().to_owned();
    let path = format!("/webhooks/providers/{}/status", preset.name());
    let with_token = format!("{path}?token={WEBHOOK_TOKEN}");
    match preset {
        Preset::Twilio => {
            let (status, error) = match report {
                Report::Delivered => ("delivered", None),
                Report::Undelivered => ("undelivered", Some("30003")),
                Report::OnTheWay => ("sent", None),
            };
            let mut params = vec![
                ("MessageSid", provider_id.clone()),
                ("SmsSid", provider_id),
                ("AccountSid", TWILIO_SID.to_owned()),
                ("MessageStatus", status.to_owned()),
                ("SmsStatus", status.to_owned()),
                ("To", to),
                ("From", "HERALD".to_owned()),
                ("ApiVersion", "2010-04-01".to_owned()),
            ];
            if let Some(code) = error {
                params.push(("ErrorCode", code.to_owned()));
            }
            let signature = twilio_signature(&format!("{PUBLIC_URL}{path}"), &params);
            Receipt {
                path,
                content_type: "application/x-www-form-urlencoded",
                body: form(&params),
                signature: Some(("X-Twilio-Signature", signature)),
            }
        }
        Preset::AfricasTalking => {
            let status = match report {
                Report::Delivered => "Success",
                Report::Undelivered => "Failed",
                Report::OnTheWay => "Buffered",
            };
            let mut params = vec![
                ("id", provider_id),
                ("status", status.to_owned()),
                ("phoneNumber", to),
                ("networkCode", "63902".to_owned()),
                ("retryCount", "0".to_owned()),
            ];
            if report == Report::Undelivered {
                params.push(("failureReason", "UserInBlacklist".to_owned()));
            }
            Receipt {
                path: with_token,
                content_type: "application/x-www-form-urlencoded",
                body: form(&params),
                signature: None,
            }
        }
        Preset::Vonage => {
            let (status, error) = match report {
                Report::Delivered => ("delivered", "0"),
                Report::Undelivered => ("failed", "6"),
                Report::OnTheWay => ("buffered", "0"),
            };
            let mut params = vec![
                ("msisdn", to.trim_start_matches('+').to_owned()),
                ("to", "HERALD".to_owned()),
                ("network-code", "23410".to_owned()),
                ("messageId", provider_id),
                ("price", "0.03330000".to_owned()),
                ("status", status.to_owned()),
                ("scts", "2612051200".to_owned()),
                ("err-code", error.to_owned()),
                ("api-key", "vonage-key".to_owned()),
                ("client-ref", id),
                ("message-timestamp", "2026-12-05 12:00:00".to_owned()),
                ("timestamp", chrono::Utc::now().timestamp().to_string()),
                ("nonce", "2fd8d7a0-1c9e-4a3e-9c7b-5b0f1e6d2a11".to_owned()),
            ];
            let sig = vonage_sig(&params);
            params.push(("sig", sig));
            // Vonage sends receipts form-encoded or as JSON, as the account is set: both.
            if report == Report::Undelivered {
                let object: serde_json::Map<String, Value> =
                    params.into_iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect();
                Receipt {
                    path,
                    content_type: "application/json",
                    body: Value::Object(object).to_string(),
                    signature: None,
                }
            } else {
                Receipt {
                    path,
                    content_type: "application/x-www-form-urlencoded",
                    body: form(&params),
                    signature: None,
                }
            }
        }
        Preset::Infobip => {
            let (status, error) = match report {
                Report::Delivered => (
                    json!({"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET", "description": "Message delivered to handset"}),
                    json!({"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error", "permanent": false}),
                ),
                Report::Undelivered => (
                    json!({"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED", "description": "Message sent not delivered"}),
                    json!({"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "description": "Absent Subscriber", "permanent": false}),
                ),
                Report::OnTheWay => (
                    json!({"groupId": 1, "groupName": "PENDING", "id": 3, "name": "PENDING_WAITING_DELIVERY", "description": "Message sent, waiting for delivery report"}),
                    json!({"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error", "permanent": false}),
                ),
            };
            let body = json!({"results": [{"bulkId": "bulk-1", "messageId": id, "to": to.trim_start_matches('+'),
                "sentAt": "2026-12-05T12:00:00.000+0000", "doneAt": "2026-12-05T12:00:05.000+0000", "smsCount": 1,
                "price": {"pricePerMessage": 0.01, "currency": "EUR"}, "status": status, "error": error,
                "callbackData": id}]});
            Receipt {
                path: with_token,
                content_type: "application/json",
                body: body.to_string(),
                signature: None,
            }
        }
    }
}

async fn post(world: &PresetWorld, receipt: &Receipt) -> (u16, Value) {
    let mut request = world
        .app
        .client
        .post(world.app.url(&receipt.path))
        .header("Content-Type", receipt.content_type)
        .body(receipt.body.clone());
    if let Some((name, value)) = &receipt.signature {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn message(world: &PresetWorld, id: &str) -> Value {
    world.app.get_json(&format!("/api/v1/notifications/{id}")).await
}

async fn timeline(world: &PresetWorld, id: &str) -> Vec<Value> {
    message(world, id).await["events"].as_array().cloned().unwrap_or_default()
}

async fn events_of(world: &PresetWorld, event_type: &str) -> Vec<Value> {
    world.app.all_events().await.into_iter().filter(|e| e["event_type"] == event_type).collect()
}

async fn a_receipt_in_each_format_moves_a_sent_message_to_delivered_once(backend: Backend) {
    let Some(world) = PresetWorld::start(backend, SECRET, Default::default(), |_| {}).await else {
        return;
    };
    for (n, preset) in Preset::ALL.into_iter().enumerate() {
        let sent = world.sent_through(preset, n as u32).await;
        let id = sent["id"].as_str().unwrap();
        // A status on the way changes nothing.
        let (status, body) = post(&world, &receipt(preset, &sent, Report::OnTheWay)).await;
        assert_eq!((status, &body["applied"]), (200, &json!(0)), "{preset:?}: {body}");
        assert_eq!(message(&world, id).await["status"], "sent");

        let delivered = receipt(preset, &sent, Report::Delivered);
        let (status, body) = post(&world, &delivered).await;
        assert_eq!((status, &body["applied"]), (200, &json!(1)), "{preset:?}: {body}");
        let now = message(&world, id).await;
        assert_eq!(now["status"], "delivered", "{preset:?}");
        let kinds: Vec<Value> = timeline(&world, id).await.iter().map(|e| e["type"].clone()).collect();
        assert_eq!(kinds.last(), Some(&json!("delivery_receipt")), "{preset:?}: {kinds:?}");

        // The same receipt again (providers retry): taken, nothing changes.
        let (status, body) = post(&world, &delivered).await;
        assert_eq!((status, &body["applied"], &body["ignored"]), (200, &json!(0), &json!(1)), "{preset:?}");
        assert_eq!(timeline(&world, id).await.len(), kinds.len(), "{preset:?}: no second entry");
        for (outcome, count) in [("progress", 1.0), ("delivered", 1.0), ("unchanged", 1.0)] {
            let sample = format!(
                "herald_delivery_receipts_total{{provider=\"{}\",outcome=\"{outcome}\"}}",
                preset.name()
            );
            assert_eq!(world.app.metric(&sample).await, Some(count), "{sample}");
        }
    }
    let delivered = events_of(&world, "notification.delivered").await;
    assert_eq!(delivered.len(), 4, "one event per message, none for the repeats: {delivered:?}");
    for event in &delivered {
        let payload = &event["payload"];
        assert_eq!(payload["notification_id"], event["aggregate_id"]);
        assert!(payload["provider_message_id"].is_string(), "{payload}");
        assert!(payload["error_code"].is_null(), "{payload}");
    }
}

async fn an_undelivered_receipt_keeps_the_providers_error_code(backend: Backend) {
    let Some(world) = PresetWorld::start(backend, SECRET, Default::default(), |_| {}).await else {
        return;
    };
    for (n, preset) in Preset::ALL.into_iter().enumerate() {
        let sent = world.sent_through(preset, n as u32).await;
        let id = sent["id"].as_str().unwrap();
        let (status, body) = post(&world, &receipt(preset, &sent, Report::Undelivered)).await;
        assert_eq!((status, &body["applied"]), (200, &json!(1)), "{preset:?}: {body}");
        let now = message(&world, id).await;
        assert_eq!(now["status"], "undelivered", "{preset:?}");
        let code = match preset {
            Preset::Twilio => "30003",
            Preset::AfricasTalking => "UserInBlacklist",
            Preset::Vonage => "err-code 6",
            Preset::Infobip => "EC_ABSENT_SUBSCRIBER",
        };
        let error = now["last_error"].as_str().unwrap();
        assert!(error.contains(code), "{preset:?}: {error}");
        // A later "delivered" for the same message does not undo it.
        let (status, _) = post(&world, &receipt(preset, &sent, Report::Delivered)).await;
        assert_eq!(status, 200);
        assert_eq!(message(&world, id).await["status"], "undelivered", "{preset:?}");
    }
    let undelivered = events_of(&world, "notification.undelivered").await;
    let mut codes: Vec<&str> =
        undelivered.iter().map(|e| e["payload"]["error_code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, ["30003", "6", "EC_ABSENT_SUBSCRIBER", "UserInBlacklist"]);
    assert!(events_of(&world, "notification.delivered").await.is_empty());
}

async fn receipts_that_are_not_the_providers_change_nothing(backend: Backend) {
    let Some(world) = PresetWorld::start(backend, SECRET, Default::default(), |_| {}).await else {
        return;
    };
    for (n, preset) in Preset::ALL.into_iter().enumerate() {
        let sent = world.sent_through(preset, n as u32).await;
        let id = sent["id"].as_str().unwrap();
        let genuine = receipt(preset, &sent, Report::Delivered);

        // Forged: the body changed after signing, or the token is wrong.
        let forged = match preset {
            Preset::Twilio => Receipt {
                body: genuine.body.replace("delivered", "undelivered"),
                ..receipt(preset, &sent, Report::Delivered)
            },
            Preset::Vonage => Receipt {
                body: genuine.body.replace("network-code=23410", "network-code=23415"),
                ..receipt(preset, &sent, Report::Delivered)
            },
            _ => Receipt {
                path: genuine.path.replace(WEBHOOK_TOKEN, "guessed"),
                ..receipt(preset, &sent, Report::Delivered)
            },
        };
        let (status, body) = post(&world, &forged).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")), "{preset:?}: {body}");
        // No signature or token at all.
        let unsigned = Receipt {
            signature: None,
            path: genuine.path.split('?').next().unwrap().to_owned(),
            ..receipt(preset, &sent, Report::Delivered)
        };
        let unsigned = match preset {
            Preset::Vonage => {
                Receipt { body: genuine.body.split("&sig=").next().unwrap().to_owned(), ..unsigned }
            }
            _ => unsigned,
        };
        assert_eq!(post(&world, &unsigned).await.0, 401, "{preset:?}");

        // Genuine but not a receipt: a required field is missing.
        let malformed = match preset {
            Preset::Twilio => {
                let params = vec![("MessageSid", "SM1".to_owned()), ("AccountSid", TWILIO_SID.to_owned())];
                let signature = twilio_signature(&format!("{PUBLIC_URL}{}", genuine.path), &params);
                Receipt {
                    body: form(&params),
                    signature: Some(("X-Twilio-Signature", signature)),
                    ..receipt(preset, &sent, Report::Delivered)
                }
            }
            Preset::AfricasTalking => Receipt {
                body: "phoneNumber=%2B254712551000".into(),
                ..receipt(preset, &sent, Report::Delivered)
            },
            Preset::Vonage => {
                let mut params = vec![
                    ("messageId", "X".to_owned()),
                    ("timestamp", chrono::Utc::now().timestamp().to_string()),
                ];
                let sig = vonage_sig(&params);
                params.push(("sig", sig));
                Receipt { body: form(&params), ..receipt(preset, &sent, Report::Delivered) }
            }
            Preset::Infobip => Receipt {
                body: r#"{"results": [{"to": "41793021000"}]}"#.into(),
                ..receipt(preset, &sent, Report::Delivered)
            },
        };
        let (status, body) = post(&world, &malformed).await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!("BAD_REQUEST")), "{preset:?}: {body}");
        assert_eq!(message(&world, id).await["status"], "sent", "{preset:?}: nothing changed");

        // A genuine receipt for a message herald does not know: taken, so the provider stops.
        let stranger = json!({"id": uuid::Uuid::now_v7().to_string(), "provider_message_id": "SMffffffff", "to": sent["to"]});
        let (status, body) = post(&world, &receipt(preset, &stranger, Report::Delivered)).await;
        assert_eq!(
            (status, &body["applied"], &body["ignored"]),
            (200, &json!(0), &json!(1)),
            "{preset:?}: {body}"
        );
    }
    let (status, body) = post(
        &world,
        &Receipt {
            path: "/webhooks/providers/nobody/status".into(),
            content_type: "application/json",
            body: "{}".into(),
            signature: None,
        },
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("PROVIDER_NOT_FOUND")));
    assert!(events_of(&world, "notification.delivered").await.is_empty());
    assert!(events_of(&world, "notification.undelivered").await.is_empty());
}
