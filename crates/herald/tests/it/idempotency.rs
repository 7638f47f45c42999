//! Idempotency keys over HTTP: repeat, mismatch, in flight and concurrent.

use chrono::{Duration, Utc};
use futures::future::join_all;
use herald::services::idempotency::fingerprint;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp, API_KEY};

on_both_backends!(
    a_repeated_request_gets_the_first_response_and_creates_one_message,
    a_key_reused_with_another_request_is_refused,
    a_key_whose_request_is_in_flight_gets_a_conflict,
    concurrent_requests_with_one_key_create_one_message,
    sms_endpoint_honours_idempotency_keys_in_its_own_shape,
);

const SEND: &str = "/api/v1/notifications/send";

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("X-API-Key", API_KEY)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_repeated_request_gets_the_first_response_and_creates_one_message(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});

    let first = post_with_key(&app, SEND, "order-42", &body).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let reordered: Value =
        serde_json::from_str(r#"{"body":"receipt 42","to":"+254712345678","channel":"sms"}"#).unwrap();
    let second = post_with_key(&app, SEND, "order-42", &reordered).await;
    assert_eq!(second.status(), 202);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.text().await.unwrap(), first_body, "the first response, byte for byte");

    let in_body =
        json!({"channel": "sms", "to": "+254712345678", "body": "receipt 43", "idempotency_key": "order-43"});
    let third = app.post_json(SEND, &in_body).await;
    let fourth = app.post_json(SEND, &in_body).await;
    assert_eq!(third.status(), 202);
    assert_eq!(fourth.headers()["idempotent-replayed"], "true");
    assert_eq!(third.text().await.unwrap(), fourth.text().await.unwrap());

    assert_eq!(app.store.status_counts().await.unwrap().total(), 2, "one message per key");
    let id: Value = serde_json::from_str(&first_body).unwrap();
    app.wait_for_status(id["id"].as_str().unwrap(), "sent").await;
}

async fn a_key_reused_with_another_request_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});
    assert_eq!(post_with_key(&app, SEND, "k-1", &body).await.status(), 202);

    let other = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 43"});
    let response = post_with_key(&app, SEND, "k-1", &other).await;
    assert_eq!(response.status(), 422);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "IDEMPOTENCY_KEY_REUSED");

    let other_endpoint = post_with_key(
        &app,
        "/sms",
        "k-1",
        &json!({"recipient": 254712345678u64, "originator": "MB", "message": "receipt 42"}),
    )
    .await;
    assert_eq!(other_endpoint.status(), 422, "a key is bound to its endpoint too");

    for bad_key in ["", &"k".repeat(256)] {
        let response = post_with_key(&app, SEND, bad_key, &body).await;
        assert_eq!(response.status(), 400, "{bad_key:?}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "INVALID_IDEMPOTENCY_KEY");
    }
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}

async fn a_key_whose_request_is_in_flight_gets_a_conflict(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let account = app.store.ensure_default_account().await.unwrap();
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});
    // A first request holding the key and still running, as another API process would.
    let now = Utc::now();
    let claim = app
        .store
        .claim_idempotency_key(
            account,
            "busy",
            &fingerprint("POST", SEND, &body),
            now,
            now - Duration::seconds(60),
            now + Duration::hours(24),
        )
        .await
        .unwrap();
    assert_eq!(claim, herald::model::IdempotencyClaim::Acquired);

    let response = post_with_key(&app, SEND, "busy", &body).await;
    assert_eq!(response.status(), 409);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "IDEMPOTENCY_KEY_IN_USE");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 0);

    // The first request's process died: after the in-flight timeout a repeat takes over.
    let later = now + Duration::seconds(120);
    let takeover = app
        .store
        .claim_idempotency_key(
            account,
            "busy",
            &fingerprint("POST", SEND, &body),
            later,
            later - Duration::seconds(60),
            later + Duration::hours(24),
        )
        .await
        .unwrap();
    assert_eq!(takeover, herald::model::IdempotencyClaim::Acquired);
}

async fn concurrent_requests_with_one_key_create_one_message(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "one and only"});

    let responses = join_all((0..12).map(|_| post_with_key(&app, SEND, "race", &body))).await;

    let mut ids = std::collections::HashSet::new();
    for response in responses {
        match response.status().as_u16() {
            202 => {
                let json: Value = response.json().await.unwrap();
                ids.insert(json["id"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "IDEMPOTENCY_KEY_IN_USE")
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 202 names the same message");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}

async fn sms_endpoint_honours_idempotency_keys_in_its_own_shape(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"recipient": 31633450007u64, "originator": "MB", "message": "paid"});

    let first = post_with_key(&app, "/sms", "pay-1", &body).await;
    let second = post_with_key(&app, "/sms", "pay-1", &body).await;
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let expected = r#"{"message":"Your SMS is being handled","status":"ok"}"#;
    assert_eq!(first.text().await.unwrap(), expected);
    assert_eq!(second.text().await.unwrap(), expected);

    let changed = json!({"recipient": 31633450007u64, "originator": "MB", "message": "paid twice?"});
    let mismatch = post_with_key(&app, "/sms", "pay-1", &changed).await;
    assert_eq!(mismatch.status(), 422);
    let json: Value = mismatch.json().await.unwrap();
    assert_eq!(json["status"], "error");
    assert!(json["message"].as_str().unwrap().contains("different request"), "{json}");

    let bad_key = post_with_key(&app, "/sms", "", &body).await;
    assert_eq!(bad_key.status(), 400);
    assert_eq!(bad_key.json::<Value>().await.unwrap()["status"], "error");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}
