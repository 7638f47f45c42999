//! Push end to end: `POST /api/v1/notifications/send` → worker → the FCM provider →
//! `herald mock-provider` answering FCM HTTP v1 (token exchange and send), and the webhook
//! push provider (herald's HTTP provider serving `push`).
//!
//! `tests/support/fcm-service-account.json` holds an RSA key made for these tests only; it
//! belongs to no Google project.

use herald::{
    config::{Config, FcmProviderConfig, ProviderEntry, ProviderKind},
    mock_provider::Knobs,
};
use herald_domain::Channel;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, MockProviderServer, TestApp};

on_both_backends!(
    pushes_go_through_fcm_with_one_token_exchange_for_many_messages,
    an_unregistered_token_fails_at_once_and_the_event_says_the_token_is_dead,
);

const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fcm-service-account.json");

fn fcm_entry(mock: &MockProviderServer) -> ProviderEntry {
    ProviderEntry {
        name: "fcm".into(),
        kind: ProviderKind::Fcm,
        channels: vec![Channel::Push],
        fcm: FcmProviderConfig {
            service_account_file: KEY_FILE.into(),
            endpoint: mock.base_url.clone(),
            token_uri: Some(format!("{}/token", mock.base_url)),
        },
        ..ProviderEntry::default()
    }
}

async fn app_with(
    backend: Backend,
    entry: ProviderEntry,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    TestApp::spawn_with_providers(
        backend,
        |config| {
            config.providers = vec![entry];
            configure(config);
        },
        Vec::new(),
    )
    .await
}

async fn send_push(app: &TestApp, to: &str, n: usize) -> String {
    let body = json!({"channel": "push", "to": to, "title": "Order shipped",
                      "body": format!("Your order {n} is on its way"), "data": {"order_id": n.to_string()}});
    let response = app.post_json("/api/v1/notifications/send", &body).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap_or_default());
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn pushes_go_through_fcm_with_one_token_exchange_for_many_messages(backend: Backend) {
    let mock = MockProviderServer::start(Knobs::default()).await;
    let Some(app) = app_with(backend, fcm_entry(&mock), |_| {}).await else { return };

    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(send_push(&app, &format!("device-{n}"), n).await);
    }
    for id in &ids {
        let sent = app.wait_for_status(id, "sent").await;
        assert_eq!(sent["provider"], "fcm");
        assert!(
            sent["provider_message_id"].as_str().unwrap().starts_with("projects/herald-test/messages/"),
            "{sent}"
        );
    }
    let stats = mock.stats().await;
    assert_eq!(stats.token_exchanges, 1, "one access token for every message of its lifetime");
    assert_eq!(stats.accepted, 20);
    let received = mock.received().await;
    let first = received.iter().find(|r| r.to == "device-3").expect("device-3 got its push");
    assert_eq!(first.title.as_deref(), Some("Order shipped"));
    assert_eq!(first.data.as_ref().and_then(|d| d.get("order_id")).map(String::as_str), Some("3"));
    let events = app.all_events().await;
    let event = events.iter().find(|e| e["aggregate_id"] == ids[0].as_str()).unwrap();
    assert_eq!(event["event_type"], "notification.sent");
    assert_eq!(event["payload"]["channel"], "push");
    app.stop().await;
}

async fn an_unregistered_token_fails_at_once_and_the_event_says_the_token_is_dead(backend: Backend) {
    let mock = MockProviderServer::start(Knobs::default()).await;
    let Some(app) = app_with(backend, fcm_entry(&mock), |_| {}).await else { return };

    let id = send_push(&app, "unregistered-device-7", 7).await;
    let failed = app.wait_for_status(&id, "failed").await;
    assert_eq!(failed["retry_count"], 0);
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("UNREGISTERED"), "{error}");
    let event = app.all_events().await.into_iter().find(|e| e["aggregate_id"] == id.as_str()).unwrap();
    assert_eq!(event["event_type"], "notification.failed");
    assert_eq!(event["payload"]["recipient_invalid"], true, "{event}");
    assert_eq!(event["payload"]["to"], "unregistered-device-7");

    // A refused payload is permanent too, but says nothing about the token.
    let id = send_push(&app, "invalid-device-8", 8).await;
    let failed = app.wait_for_status(&id, "failed").await;
    assert!(failed["last_error"].as_str().unwrap().contains("INVALID_ARGUMENT"));
    app.stop().await;
}

#[crate::harness::test]
async fn a_revoked_access_token_is_exchanged_again_within_the_same_attempt() {
    let mock = MockProviderServer::start(Knobs::default()).await;
    let Some(app) = app_with(Backend::Sqlite, fcm_entry(&mock), |_| {}).await else { return };

    let first = send_push(&app, "device-1", 1).await;
    app.wait_for_status(&first, "sent").await;
    let revoked = reqwest::Client::new().post(format!("{}/fcm/revoke", mock.base_url)).send().await.unwrap();
    assert_eq!(revoked.status(), 204);

    let second = send_push(&app, "device-2", 2).await;
    let sent = app.wait_for_status(&second, "sent").await;
    assert_eq!(sent["retry_count"], 0, "the 401 was handled inside the attempt");
    assert_eq!(mock.stats().await.token_exchanges, 2);
    app.stop().await;
}

#[crate::harness::test]
async fn an_access_token_past_its_lifetime_is_not_used_again() {
    // Tokens that expire at once: each send must get a new one before it goes.
    let mock = MockProviderServer::start(Knobs { fcm_token_ttl_secs: 0, ..Knobs::default() }).await;
    let Some(app) = app_with(Backend::Sqlite, fcm_entry(&mock), |_| {}).await else { return };

    for n in 0..3 {
        let id = send_push(&app, &format!("device-{n}"), n).await;
        app.wait_for_status(&id, "sent").await;
    }
    let stats = mock.stats().await;
    assert_eq!(stats.token_exchanges, 3);
    assert_eq!(stats.calls, 3, "no send went out with an expired token");
    app.stop().await;
}

#[crate::harness::test]
async fn fcms_429_with_retry_after_sets_the_next_attempt() {
    let mock =
        MockProviderServer::start(Knobs { throttle_rate: 1.0, retry_after_secs: 30, ..Knobs::default() })
            .await;
    let Some(app) = app_with(Backend::Sqlite, fcm_entry(&mock), |_| {}).await else { return };

    let id = send_push(&app, "device-1", 1).await;
    let waiting = app.assert_retry_waits(&id, chrono::Duration::seconds(30)).await;
    assert!(waiting["last_error"].as_str().unwrap().contains("QUOTA_EXCEEDED"), "{waiting}");
    app.stop().await;
}

#[crate::harness::test]
async fn the_webhook_push_provider_posts_title_body_and_data_to_the_gateway() {
    let gateway = MockProviderServer::start(Knobs::default()).await;
    let mut entry = ProviderEntry {
        name: "gateway".into(),
        kind: ProviderKind::Http,
        channels: vec![Channel::Push],
        ..ProviderEntry::default()
    };
    entry.http.url = format!("{}/messages", gateway.base_url);
    let Some(app) = app_with(Backend::Sqlite, entry, |_| {}).await else { return };

    let id = send_push(&app, "device-42", 42).await;
    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["provider"], "gateway");
    let [received] = gateway.received().await.try_into().expect("one push");
    assert_eq!(received.to, "device-42");
    assert_eq!(received.reference.as_deref(), Some(id.as_str()));
    assert_eq!(received.channel.as_deref(), Some("push"));
    assert_eq!(received.title.as_deref(), Some("Order shipped"));
    assert_eq!(received.data.as_ref().and_then(|d| d.get("order_id")).map(String::as_str), Some("42"));
    app.stop().await;
}
