//! `POST /sms`: the sms-processor contract.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, wait_until, Backend, TestApp, API_KEY};

const OK_BODY: &str = r#"{"message":"Your SMS is being handled","status":"ok"}"#;
const MESSAGE_RULE: &str = "Must be a non-empty text of at most 1530 characters";
const ORIGINATOR_RULE: &str = "Must be a phone number or an alpha numeric shorter or equal to 11 characters";

on_both_backends!(
    sms_is_answered_ok_then_reaches_the_provider_and_emits_sms_sent,
    invalid_sms_requests_get_their_error_and_store_nothing,
);

async fn sms_is_answered_ok_then_reaches_the_provider_and_emits_sms_sent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };

    let response = app
        .post_json(
            "/sms",
            &json!({"recipient": 31633450007u64, "originator": "MB", "message": "This is a test message."}),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), OK_BODY);
    let delivered = wait_until(Duration::from_secs(20), || async { !app.mock.deliveries().is_empty() }).await;
    assert!(delivered, "the mock provider never received the message");
    let deliveries = app.mock.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].to, "+31633450007");
    assert_eq!(deliveries[0].from.as_deref(), Some("MB"));
    assert_eq!(deliveries[0].body, "This is a test message.");

    let message_id = deliveries[0].message_id.to_string();
    let events = poll(Duration::from_secs(20), || async {
        let events = app.all_events().await;
        (!events.is_empty()).then_some(events)
    })
    .await
    .expect("an event in /api/v1/events");
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["event_type"], "sms.sent");
    assert_eq!(event["aggregate_id"], message_id.as_str());
    assert_eq!(event["payload"]["phone_number"], "+31633450007");
    assert_eq!(event["payload"]["to"], "+31633450007");
    assert_eq!(event["payload"]["provider"], "mock");
    for field in ["event_id", "event_type", "aggregate_id", "user_id", "payload", "metadata", "timestamp"] {
        assert!(event.get(field).is_some(), "envelope lacks {field}: {event}");
    }
    let message = app.wait_for_status(&message_id, "sent").await;
    assert_eq!(message["retry_count"], 0);
}

fn invalid(field: &str, value: &str, rule: &str) -> String {
    format!("'{field}' field '{value}' is invalid: '{rule}'")
}

async fn invalid_sms_requests_get_their_error_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let recipient_rule = "Must be a phone number in international format, as digits, e.g. 31612345678";
    let valid = json!({"recipient": 31633450007u64, "originator": "MB", "message": "hi"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };

    let cases: Vec<(&str, Value, String)> = vec![
        ("missing originator", without("originator"), invalid("originator", "", ORIGINATOR_RULE)),
        ("empty originator", with("originator", json!("")), invalid("originator", "", ORIGINATOR_RULE)),
        (
            "12-character originator",
            with("originator", json!("ABCDEFGHIJKL")),
            invalid("originator", "ABCDEFGHIJKL", ORIGINATOR_RULE),
        ),
        ("numeric originator", with("originator", json!(12)), invalid("originator", "12", ORIGINATOR_RULE)),
        (
            "non-numeric recipient",
            with("recipient", json!("abc")),
            invalid("recipient", "abc", recipient_rule),
        ),
        ("too-short recipient", with("recipient", json!(316)), invalid("recipient", "316", recipient_rule)),
        ("boolean recipient", with("recipient", json!(true)), invalid("recipient", "true", recipient_rule)),
        ("missing recipient", without("recipient"), invalid("recipient", "", recipient_rule)),
        ("empty message", with("message", json!("")), invalid("message", "", MESSAGE_RULE)),
        ("numeric message", with("message", json!(42)), invalid("message", "42", MESSAGE_RULE)),
    ];
    for (case, body, expected) in cases {
        let response = app.post_json("/sms", &body).await;
        assert_eq!(response.status(), 400, "{case}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json, json!({"message": expected, "status": "error"}), "{case}");
    }

    let unknown_field = with("priority", json!("high"));
    let response = app.post_json("/sms", &unknown_field).await;
    assert_eq!(response.status(), 400);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], "error");
    assert!(json["message"].as_str().unwrap().contains("unknown field `priority`"), "{json}");

    let not_an_object = app.post_json("/sms", &json!([1, 2, 3])).await;
    assert_eq!(not_an_object.status(), 400);

    let malformed = app
        .client
        .post(app.url("/sms"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "application/json")
        .body("{\"recipient\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json::<Value>().await.unwrap()["status"], "error");

    let huge = format!(
        r#"{{"recipient":31633450007,"originator":"MB","message":"{}"}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let too_large = app
        .client
        .post(app.url("/sms"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    assert_eq!(too_large.json::<Value>().await.unwrap()["status"], "error");

    let wrong_type = app
        .client
        .post(app.url("/sms"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "text/plain")
        .body(valid.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(wrong_type.json::<Value>().await.unwrap()["status"], "error");

    for key in [None, Some("wrong-key-wrong-key"), Some("")] {
        let mut request = app.client.post(app.url("/sms")).json(&valid);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "key {key:?}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json, json!({"message": "missing or invalid API key", "status": "error"}));
    }

    let counts = app.store.status_counts().await.unwrap();
    assert_eq!(counts.total(), 0, "invalid requests stored messages: {counts:?}");
    assert_eq!(app.mock.calls(), 0);
}
