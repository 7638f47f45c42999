//! Email end to end: `POST /api/v1/notifications/send` → store → worker → SMTP provider →
//! a real SMTP server (aiosmtpd), with retries, failures, the breaker and dead letters as
//! for SMS; and the 422s of email and push requests.

use herald::config::{Config, ProviderEntry, ProviderKind, Secret, SmtpProviderConfig, SmtpTls};
use herald_domain::Channel;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, SmtpServer, TestApp};

on_both_backends!(
    an_email_goes_through_the_worker_and_arrives_with_its_headers_and_both_bodies,
    a_451_is_retried_and_the_email_is_then_delivered_once,
    a_550_fails_the_email_at_once_and_it_is_a_dead_letter,
    invalid_email_and_push_requests_name_the_field_and_store_nothing,
);

/// An SMTP provider entry for the server on `port`, with a breaker that opens after three
/// failed calls and stays open `open_secs`.
fn smtp_entry(port: u16, auth: Option<(&str, &str)>, open_secs: u64) -> ProviderEntry {
    let mut entry = ProviderEntry {
        name: "relay".into(),
        kind: ProviderKind::Smtp,
        channels: vec![Channel::Email],
        timeout_ms: Some(5_000),
        smtp: SmtpProviderConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            tls: SmtpTls::None,
            username: auth.map(|(user, _)| user.to_owned()),
            password: auth.map(|(_, password)| Secret::new(password)),
            from: "Herald <noreply@herald.example>".into(),
            pool_size: Some(4),
            ca_file: None,
        },
        ..ProviderEntry::default()
    };
    let breaker = &mut entry.limits.breaker;
    (breaker.window, breaker.min_calls, breaker.failure_rate) = (3, 3, 0.5);
    (breaker.open_secs, breaker.half_open_calls) = (open_secs, 1);
    entry
}

/// An app whose email goes to the SMTP server on `port` (SMS and push to the mock).
async fn app_with_relay(
    backend: Backend,
    port: u16,
    auth: Option<(&str, &str)>,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    TestApp::spawn_with_providers(
        backend,
        |config| {
            config.providers = vec![
                smtp_entry(port, auth, 1),
                ProviderEntry {
                    name: "mock".into(),
                    channels: vec![Channel::Sms, Channel::Push],
                    ..ProviderEntry::default()
                },
            ];
            config.email.reply_to = Some("support@herald.example".into());
            configure(config);
        },
        Vec::new(),
    )
    .await
}

async fn send_email(app: &TestApp, to: &str) -> String {
    let response = app
        .post_json(
            "/api/v1/notifications/send",
            &json!({"channel": "email", "to": to, "subject": "Your receipt", "body": "Thanks for your payment."}),
        )
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap_or_default());
    let accepted: Value = response.json().await.unwrap();
    accepted["id"].as_str().unwrap().to_owned()
}

fn timeline(message: &Value) -> Vec<String> {
    message["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

async fn an_email_goes_through_the_worker_and_arrives_with_its_headers_and_both_bodies(backend: Backend) {
    let Some(server) = SmtpServer::start(None).await else { return };
    let Some(app) = app_with_relay(backend, server.port, None, |_| {}).await else { return };

    let response = app
        .post_json(
            "/api/v1/notifications/send",
            &json!({
                "channel": "email",
                "to": "ada@example.com",
                "subject": "Your receipt",
                "body": "Thank you for your payment of 12.00 EUR.",
                "html": "<p>Thank you for your <b>payment</b>.</p>",
                "from": "Shop <receipts@shop.example>",
                "unsubscribe_url": "https://shop.example/unsubscribe?u=12345",
            }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["channel"], "email");
    assert_eq!(sent["to"], "ada@example.com");
    assert_eq!(sent["subject"], "Your receipt");
    assert_eq!(sent["html"], "<p>Thank you for your <b>payment</b>.</p>");
    assert_eq!(sent["reply_to"], "support@herald.example", "the configured default");
    assert_eq!(sent["provider"], "relay");
    // The Message-ID's domain is the provider's sender's; the id is herald's.
    let message_id = format!("<{id}@herald.example>");
    assert_eq!(sent["provider_message_id"], message_id.as_str());

    let [raw] = server.wait_for_messages(1).await.try_into().expect("one message");
    SmtpServer::assert_headers(
        &raw,
        &[
            "From: Shop <receipts@shop.example>",
            "To: ada@example.com",
            "Subject: Your receipt",
            "Reply-To: support@herald.example",
            "List-Unsubscribe: <https://shop.example/unsubscribe?u=12345>",
            &format!("Message-ID: {message_id}"),
        ],
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("Thank you for your payment of 12.00 EUR."), "{raw}");
    assert!(raw.contains("<b>payment</b>"), "{raw}");

    let events = app.all_events().await;
    let event = events.iter().find(|e| e["aggregate_id"] == id.as_str()).expect("an event for the email");
    assert_eq!(event["event_type"], "notification.sent");
    assert_eq!(event["payload"]["channel"], "email");
    assert_eq!(event["payload"]["provider_message_id"], message_id.as_str());
    assert_eq!(
        app.metric(r#"herald_messages_sent_total{channel="email",provider="relay"}"#).await,
        Some(1.0)
    );
    app.stop().await;
}

async fn a_451_is_retried_and_the_email_is_then_delivered_once(backend: Backend) {
    let Some(server) = SmtpServer::start(None).await else { return };
    let Some(app) = app_with_relay(backend, server.port, None, |_| {}).await else { return };

    let id = send_email(&app, "defer451@example.com").await;
    let sent = app.wait_for_status(&id, "sent").await;

    assert_eq!(sent["retry_count"], 1);
    assert_eq!(timeline(&sent), ["accepted", "attempt_failed", "attempt_succeeded"]);
    let failed = &sent["events"][1];
    assert!(failed["detail"].as_str().unwrap().contains("451"), "{failed}");
    let [raw] = server.wait_for_messages(1).await.try_into().expect("delivered once");
    assert!(raw.contains(&format!("Message-ID: <{id}@herald.example>")), "{raw}");
    app.stop().await;
}

async fn a_550_fails_the_email_at_once_and_it_is_a_dead_letter(backend: Backend) {
    let Some(server) = SmtpServer::start(None).await else { return };
    let Some(app) = app_with_relay(backend, server.port, None, |_| {}).await else { return };

    let id = send_email(&app, "reject550@example.com").await;
    let failed = app.wait_for_status(&id, "failed").await;

    assert_eq!(failed["retry_count"], 0, "a permanent answer is not retried");
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("550") && error.contains("mailbox unavailable"), "{error}");
    let dead = app.get_json("/api/v1/dead-letters?channel=email").await;
    let ids: Vec<&str> = dead["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()]);
    assert!(server.messages().is_empty());
    let event = app.all_events().await.into_iter().find(|e| e["aggregate_id"] == id.as_str()).unwrap();
    assert_eq!(event["event_type"], "notification.failed");
    assert_eq!(event["payload"]["channel"], "email");

    // Replayed, it goes to the relay again (which refuses it again).
    let replay = app.post_json(&format!("/api/v1/dead-letters/{id}/replay"), &json!({})).await;
    assert_eq!(replay.status(), 202);
    let again = crate::helpers::poll(std::time::Duration::from_secs(20), || async {
        let message = app.get_json(&format!("/api/v1/notifications/{id}")).await;
        (message["status"] == "failed" && timeline(&message).len() == 4).then_some(message)
    })
    .await
    .expect("the replayed email fails again");
    assert_eq!(timeline(&again), ["accepted", "attempt_failed", "replayed", "attempt_failed"]);
    app.stop().await;
}

#[crate::harness::test]
async fn a_relay_that_is_down_opens_the_breaker_and_the_emails_go_once_it_is_back() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let port = server.port;
    server.stop();
    let Some(app) = app_with_relay(Backend::Sqlite, port, None, |config| {
        config.dispatch.max_retries = 50;
    })
    .await
    else {
        return;
    };

    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(send_email(&app, &format!("user{n}@example.com")).await);
    }
    app.wait_for_metric(r#"herald_breaker_state{provider="relay"}"#, 2.0).await;
    let Some(server) = SmtpServer::start_on(port, None).await else { return };
    for id in &ids {
        let sent = app.wait_for_status(id, "sent").await;
        assert_eq!(sent["provider"], "relay");
    }
    app.wait_for_metric(r#"herald_breaker_state{provider="relay"}"#, 0.0).await;
    assert_eq!(server.wait_for_messages(ids.len()).await.len(), ids.len(), "each email arrived once");
    app.stop().await;
}

#[crate::harness::test]
async fn a_login_the_relay_refuses_fails_the_email_with_the_reply_and_without_the_password() {
    let Some(server) = SmtpServer::start(Some(("herald", "s3cret"))).await else { return };
    let Some(app) = app_with_relay(Backend::Sqlite, server.port, Some(("herald", "pw-71c0de")), |_| {}).await
    else {
        return;
    };

    let id = send_email(&app, "ada@example.com").await;
    let failed = app.wait_for_status(&id, "failed").await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("535"), "{error}");
    assert!(!failed.to_string().contains("pw-71c0de"), "the password is nowhere in the message");
    assert!(server.messages().is_empty());
    app.stop().await;
}

async fn invalid_email_and_push_requests_name_the_field_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let email = json!({"channel": "email", "to": "ada@example.com", "subject": "Hi", "body": "hello"});
    let push = json!({"channel": "push", "to": "device-token-1", "title": "Hi", "body": "hello"});
    let with = |base: &Value, field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let without = |base: &Value, field: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let big_data: serde_json::Map<String, Value> =
        (0..5).map(|n| (format!("k{n}"), json!("x".repeat(1000)))).collect();

    let cases: Vec<(&str, Value, &str)> = vec![
        ("an invalid address", with(&email, "to", json!("ada@")), "to"),
        ("a phone number for email", with(&email, "to", json!("+254712345678")), "to"),
        ("an email address for SMS", json!({"channel": "sms", "to": "ada@example.com", "body": "x"}), "to"),
        ("a push token with a space", with(&push, "to", json!("a token")), "to"),
        ("no subject", without(&email, "subject"), "subject"),
        ("a subject of two lines", with(&email, "subject", json!("Hi\r\nBcc: eve@example.com")), "subject"),
        ("HTML over the limit", with(&email, "html", json!("x".repeat(100_001))), "html"),
        ("a sender that is no address", with(&email, "from", json!("Shop")), "from"),
        (
            "an unsubscribe URL of another scheme",
            with(&email, "unsubscribe_url", json!("ftp://x")),
            "unsubscribe_url",
        ),
        ("a push field on email", with(&email, "data", json!({"a": "b"})), "data"),
        (
            "an email field on SMS",
            json!({"channel": "sms", "to": "+254712345678", "body": "x", "subject": "s"}),
            "subject",
        ),
        ("data that is not string to string", with(&push, "data", json!({"order": 42})), "data"),
        ("data that is not an object", with(&push, "data", json!(["a"])), "data"),
        ("a data key FCM reserves", with(&push, "data", json!({"google.c.a": "x"})), "data"),
        ("push over FCM's 4096 bytes", with(&push, "data", Value::Object(big_data)), "data"),
        ("a sender on push", with(&push, "from", json!("x")), "from"),
        ("WhatsApp", json!({"channel": "whatsapp", "to": "+254712345678", "body": "x"}), "channel"),
    ];
    for (case, body, field) in cases {
        let response = app.post_json("/api/v1/notifications/send", &body).await;
        assert_eq!(response.status(), 422, "{case}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "VALIDATION_ERROR", "{case}: {json}");
        assert_eq!(json["error"]["field"], field, "{case}: {json}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{case}: the message names the field: {message}");
    }
    assert_eq!(app.metric(r#"herald_messages_accepted_total{channel="email"}"#).await.unwrap_or(0.0), 0.0);
    assert_eq!(app.metric(r#"herald_messages_accepted_total{channel="push"}"#).await.unwrap_or(0.0), 0.0);

    // The same requests, valid, are taken.
    for body in [&email, &push] {
        let response = app.post_json("/api/v1/notifications/send", body).await;
        assert_eq!(response.status(), 202, "{body}");
        let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&id, "sent").await;
    }
    let delivered = app.mock.deliveries();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].content.subject.as_deref(), Some("Hi"));
    assert_eq!(delivered[1].to, "device-token-1");
    app.stop().await;
}
