//! `/api/v1/notifications` and `/api/v1/events`.

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp, API_KEY};

on_both_backends!(
    a_sent_notification_shows_its_status_attempts_and_timeline,
    sms_segments_are_stored_shown_and_counted_per_provider,
    invalid_notification_requests_get_the_json_error_shape_and_store_nothing,
    event_feed_pages_with_a_cursor_and_rejects_bad_parameters,
);

async fn a_sent_notification_shows_its_status_attempts_and_timeline(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };

    let response = app
        .post_json(
            "/api/v1/notifications/send",
            &json!({"channel": "sms", "to": "+254712345678", "body": "Your code is 123456"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "pending");
    let id = accepted["id"].as_str().unwrap();

    let sent = app.wait_for_status(id, "sent").await;
    assert_eq!(sent["id"], id);
    assert_eq!(sent["channel"], "sms");
    assert_eq!(sent["to"], "+254712345678");
    assert_eq!(sent["from"], "herald");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["retry_count"], 0);
    assert_eq!(sent["provider"], "mock");
    assert_eq!(sent["provider_message_id"], format!("mock-{id}"));
    assert!(sent["sent_at"].is_string());
    let timeline: Vec<&str> =
        sent["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["accepted", "attempt_succeeded"]);
    app.stop().await;
}

async fn invalid_notification_requests_get_the_json_error_shape_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let valid = json!({"channel": "sms", "to": "+254712345678", "body": "hello"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };

    let cases: Vec<(&str, Value, u16)> = vec![
        ("empty body", with("body", json!("")), 422),
        ("blank body", with("body", json!("   ")), 422),
        ("non-numeric recipient", with("to", json!("abc")), 422),
        ("too-short recipient", with("to", json!("+316")), 422),
        ("recipient as a number", with("to", json!(254712345678u64)), 422),
        ("unknown channel", with("channel", json!("fax")), 422),
        ("unsupported channel", with("channel", json!("email")), 422),
        ("12-character sender", with("from", json!("ABCDEFGHIJKL")), 422),
        ("unknown field", with("user", json!("x")), 422),
        ("missing field", json!({"channel": "sms", "to": "+254712345678"}), 422),
        ("not an object", json!("sms"), 422),
    ];
    for (case, body, status) in cases {
        let response = app.post_json("/api/v1/notifications/send", &body).await;
        assert_eq!(response.status(), status, "{case}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "VALIDATION_ERROR", "{case}: {json}");
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {json}");
    }

    let post_raw = |content_type: &'static str, body: String| {
        app.client
            .post(app.url("/api/v1/notifications/send"))
            .header("X-API-Key", API_KEY)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let expect_error = |response: reqwest::Response, status: u16, code: &'static str| async move {
        assert_eq!(response.status(), status, "{code}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], code);
    };
    expect_error(post_raw("application/json", "{\"channel\":".into()).await.unwrap(), 400, "INVALID_JSON")
        .await;
    let huge =
        format!(r#"{{"channel":"sms","to":"+254712345678","body":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
    expect_error(post_raw("application/json", huge).await.unwrap(), 413, "PAYLOAD_TOO_LARGE").await;
    expect_error(
        post_raw("application/xml", valid.to_string()).await.unwrap(),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;

    for key in [None, Some("wrong-key-wrong-key")] {
        let mut request = app.client.post(app.url("/api/v1/notifications/send")).json(&valid);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        expect_error(request.send().await.unwrap(), 401, "UNAUTHORIZED").await;
    }

    assert_eq!(app.store.status_counts().await.unwrap().total(), 0);
    assert_eq!(app.mock.calls(), 0);
}

async fn event_feed_pages_with_a_cursor_and_rejects_bad_parameters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = app.send_notification("+254712345678", &format!("message {n}")).await;
        app.wait_for_status(&id, "sent").await;
        ids.push(id);
    }

    let events = app.all_events().await;
    let aggregates: Vec<&str> = events.iter().map(|e| e["aggregate_id"].as_str().unwrap()).collect();
    assert_eq!(aggregates, ids.iter().map(String::as_str).collect::<Vec<_>>(), "each event once, in order");
    let event_ids: std::collections::HashSet<&str> =
        events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(event_ids.len(), 5, "event ids are unique");

    let last_cursor = events.last().unwrap()["cursor"].as_str().unwrap().to_owned();
    let empty = app.get_json(&format!("/api/v1/events?after={last_cursor}")).await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["next_cursor"], last_cursor.as_str(), "an empty page keeps the cursor");

    for query in ["limit=0", "limit=1001", "limit=abc", "after=abc", "after=-1", "after=1-", "bogus=1"] {
        let response = app.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "BAD_REQUEST", "{query}");
    }
}

/// PostgreSQL hands out an event's sequence number before its transaction commits: an event
/// whose transaction commits after a later one's must still reach a reader that follows the
/// cursor, not land behind it.
#[crate::harness::test(postgres)]
async fn an_event_that_commits_late_is_not_skipped_by_a_feed_reader() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let other = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut late = other.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO outbox (event_id, account_id, event_type, aggregate_id, payload, metadata, created_at)
         SELECT gen_random_uuid(), id, 'test.late', 'late', '{}', '{}', now() FROM accounts WHERE is_default",
    )
    .execute(&mut *late)
    .await
    .unwrap();
    // Meanwhile a notification is sent and its sms.sent event committed.
    let id = app.send_notification("+254712345678", "hello").await;
    app.wait_for_status(&id, "sent").await;

    // A reader now: the committed sms.sent waits behind the open transaction.
    let page = app.get_json("/api/v1/events").await;
    assert_eq!(page["data"], json!([]), "nothing can be listed ahead of an open transaction: {page}");
    late.commit().await.unwrap();

    // The reader carries on from its cursor and gets both, the late one first.
    let after = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let reader = std::cell::RefCell::new((after, Vec::<String>::new()));
    let settled = crate::helpers::wait_until(std::time::Duration::from_secs(30), || async {
        let path = format!("/api/v1/events?after={}", reader.borrow().0);
        let page = app.get_json(&path).await;
        let mut reader = reader.borrow_mut();
        for event in page["data"].as_array().unwrap() {
            reader.1.push(event["event_type"].as_str().unwrap().to_owned());
        }
        if let Some(next) = page["next_cursor"].as_str() {
            reader.0 = next.to_owned();
        }
        reader.1.len() >= 2
    })
    .await;
    let types = reader.into_inner().1;
    assert!(settled, "the reader got {types:?}");
    assert_eq!(types, ["test.late", "sms.sent"]);
}

async fn sms_segments_are_stored_shown_and_counted_per_provider(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (json!({"channel": "sms", "to": "+254712345678", "body": "Your code is 123456"}), json!(1)),
        // 161 GSM-7 characters: two parts of 153.
        (json!({"channel": "sms", "to": "+254712345678", "body": "a".repeat(161)}), json!(2)),
        // One emoji makes the text UCS-2: 71 UTF-16 units are two parts of 67.
        (json!({"channel": "sms", "to": "+254712345678", "body": format!("{}👋", "a".repeat(69))}), json!(2)),
        (
            json!({"channel": "email", "to": "ada@example.com", "subject": "Hi", "body": "a".repeat(500)}),
            Value::Null,
        ),
    ];
    for (body, segments) in &cases {
        let response = app.post_json("/api/v1/notifications/send", body).await;
        assert_eq!(response.status(), 202);
        let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let sent = app.wait_for_status(&id, "sent").await;
        assert_eq!(&sent["segments"], segments, "{body}");
    }
    app.wait_for_metric(r#"herald_sms_segments_total{provider="mock"}"#, 5.0).await;
    app.stop().await;
}
