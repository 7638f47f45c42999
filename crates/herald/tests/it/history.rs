//! A user's history (`GET /api/v1/notifications/user/{user_id}`) and the status changes
//! clients make (`PUT /api/v1/notifications/{id}/status`), on both backends.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, Backend, TestApp};

on_both_backends!(
    history_pages_newest_first_with_template_names_and_filters,
    history_pages_stay_stable_while_new_notifications_arrive,
    clients_cancel_and_report_delivery_and_reading_and_get_409_otherwise,
);

async fn send(app: &TestApp, body: Value) -> String {
    let (status, out) = app.call(reqwest::Method::POST, "/api/v1/notifications/send", Some(&body)).await;
    assert_eq!(status, 202, "{body} -> {out}");
    out["id"].as_str().unwrap().to_owned()
}

async fn template(app: &TestApp, body: Value) -> String {
    let (status, out) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&body)).await;
    assert_eq!(status, 201, "{out}");
    out["id"].as_str().unwrap().to_owned()
}

/// Every page of the user's history with `query`, following `next_cursor`.
async fn all_pages(app: &TestApp, user: &str, query: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/notifications/user/{user}?{query}{cursor}");
        let page = app.get_json(&path).await;
        pages.push(page["data"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return pages,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

async fn history_pages_newest_first_with_template_names_and_filters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/users/12345",
            Some(&json!({"email": "ada@example.com", "phone": "+254712345678"})),
        )
        .await;
    assert_eq!(status, 201);
    let otp = template(&app, json!({"name": "otp", "type": "sms", "body": "Code {code}"})).await;
    template(&app, json!({"name": "welcome", "type": "email", "subject": "Hi", "body": "Welcome"})).await;

    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(send(&app, json!({"user_id": 12345, "template": "otp", "context": {"code": i}})).await);
    }
    let welcome = send(&app, json!({"user_id": "12345", "template": "welcome"})).await;
    sent.push(welcome.clone());
    send(&app, json!({"channel": "sms", "to": "+254712345679", "body": "someone else", "user_id": "67890"}))
        .await;
    // The template's name changes: history keeps the name of the version each was sent with.
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/templates/{otp}"),
            Some(&json!({"name": "one_time_code", "type": "sms", "body": "Your code {code}"})),
        )
        .await;
    assert_eq!(status, 200);
    let renamed =
        send(&app, json!({"user_id": 12345, "template": "one_time_code", "context": {"code": 9}})).await;
    sent.push(renamed.clone());
    for id in &sent {
        app.wait_for_status(id, "sent").await;
    }

    let pages = all_pages(&app, "12345", "limit=3").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
    let listed: Vec<Value> = pages.concat();
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(ids(&listed), newest_first, "newest first, every message once, only this user's");
    assert_eq!(
        (&listed[0]["template_name"], &listed[0]["template_version"]),
        (&json!("one_time_code"), &json!(2))
    );
    assert_eq!(listed[0]["body"], "Your code 9");
    assert_eq!((&listed[1]["template_name"], &listed[1]["channel"]), (&json!("welcome"), &json!("email")));
    assert_eq!((&listed[2]["template_name"], &listed[2]["template_version"]), (&json!("otp"), &json!(1)));
    let times: Vec<DateTime<Utc>> =
        listed.iter().map(|i| i["created_at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Filters: channel, template, status, time range.
    let emails = all_pages(&app, "12345", "channel=email").await.concat();
    assert_eq!(ids(&emails), std::slice::from_ref(&welcome));
    let by_otp = all_pages(&app, "12345", &format!("template={otp}")).await.concat();
    assert_eq!(by_otp.len(), 8);
    assert_eq!(all_pages(&app, "12345", "status=failed").await.concat().len(), 0);
    assert_eq!(all_pages(&app, "12345", "status=sent").await.concat().len(), 9);
    let since = listed[1]["created_at"].as_str().unwrap();
    let recent = all_pages(&app, "12345", &format!("since={}", urlencode(since))).await.concat();
    assert_eq!(ids(&recent), [renamed.clone(), welcome.clone()]);
    let until = all_pages(&app, "12345", &format!("until={}", urlencode(since))).await.concat();
    assert_eq!(until.len(), 7);

    // Unknown users have an empty history; bad filters are a 400 in the error shape.
    let empty = app.get_json("/api/v1/notifications/user/nobody").await;
    assert_eq!((&empty["data"], &empty["next_cursor"]), (&json!([]), &Value::Null));
    for query in
        ["status=lost", "channel=fax", "template=x", "since=yesterday", "cursor=abc", "limit=0", "limit=201"]
    {
        let (status, out) =
            app.call(reqwest::Method::GET, &format!("/api/v1/notifications/user/12345?{query}"), None).await;
        assert_eq!(status, 400, "{query} -> {out}");
        assert!(out["error"]["code"].is_string(), "{out}");
    }
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn history_pages_stay_stable_while_new_notifications_arrive(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut first = Vec::new();
    for i in 0..10 {
        first.push(
            send(
                &app,
                json!({"channel": "sms", "to": "+254712345678", "body": format!("m{i}"), "user_id": "u1"}),
            )
            .await,
        );
    }
    // Page through while more arrive between pages: no page repeats or skips the first ten.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut newcomers = Vec::new();
    loop {
        let page = app.get_json(&format!("/api/v1/notifications/user/u1?limit=4{cursor}")).await;
        seen.extend(ids(page["data"].as_array().unwrap()));
        newcomers.push(
            send(&app, json!({"channel": "sms", "to": "+254712345678", "body": "late", "user_id": "u1"}))
                .await,
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = first.iter().rev().cloned().collect();
    assert_eq!(seen, expected, "the pages hold exactly the ten that were there, in order");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 10);
    // The newcomers are at the front of a fresh first page.
    let fresh = app.get_json("/api/v1/notifications/user/u1?limit=3").await;
    let front = ids(fresh["data"].as_array().unwrap());
    assert_eq!(front, newcomers.iter().rev().take(3).cloned().collect::<Vec<_>>());
}

async fn clients_cancel_and_report_delivery_and_reading_and_get_409_otherwise(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let status_of = |id: &str| format!("/api/v1/notifications/{id}/status");
    let later = (Utc::now() + Duration::hours(1)).to_rfc3339();

    // A scheduled notification can be cancelled; it is never sent.
    let scheduled = send(
        &app,
        json!({"channel": "sms", "to": "+254712345678", "body": "later", "user_id": "u2", "send_at": later}),
    )
    .await;
    let (status, cancelled) = app
        .call(
            reqwest::Method::PUT,
            &status_of(&scheduled),
            Some(&json!({"status": "cancelled", "reason": "order cancelled"})),
        )
        .await;
    assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")), "{cancelled}");
    assert_eq!(cancelled["next_attempt_at"], Value::Null);
    let last = cancelled["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&last["type"], &last["status"]), (&json!("status_changed"), &json!("cancelled")));
    assert!(last["detail"].as_str().unwrap().contains("order cancelled"));

    // A sent one: delivered, then read; each once.
    let id =
        send(&app, json!({"channel": "sms", "to": "+254712345678", "body": "now", "user_id": "u2"})).await;
    app.wait_for_status(&id, "sent").await;
    for next in ["delivered", "read"] {
        let (status, out) =
            app.call(reqwest::Method::PUT, &status_of(&id), Some(&json!({"status": next}))).await;
        assert_eq!((status, &out["status"]), (200, &json!(next)), "{out}");
    }

    // Anything else: 409 with the current status, and nothing changes.
    for (target, body) in [
        (&id, json!({"status": "cancelled"})),
        (&id, json!({"status": "delivered"})),
        (&scheduled, json!({"status": "read"})),
        (&scheduled, json!({"status": "cancelled"})),
    ] {
        let before = app.get_json(&format!("/api/v1/notifications/{target}")).await;
        let (status, out) = app.call(reqwest::Method::PUT, &status_of(target), Some(&body)).await;
        assert_eq!(
            (status, &out["error"]["code"]),
            (409, &json!("INVALID_STATUS_TRANSITION")),
            "{body} -> {out}"
        );
        assert_eq!(out["error"]["current_status"], before["status"]);
        assert_eq!(app.get_json(&format!("/api/v1/notifications/{target}")).await, before);
    }
    // Statuses clients do not set, and unknown notifications.
    for body in
        [json!({"status": "sent"}), json!({"status": "failed"}), json!({"status": "bogus"}), json!({})]
    {
        let (status, out) = app.call(reqwest::Method::PUT, &status_of(&id), Some(&body)).await;
        assert_eq!(status, 422, "{body} -> {out}");
    }
    let (status, out) = app
        .call(
            reqwest::Method::PUT,
            &status_of("01a24537-7bc1-74cf-a4db-c2862f19c8cd"),
            Some(&json!({"status": "read"})),
        )
        .await;
    assert_eq!((status, &out["error"]["code"]), (404, &json!("NOTIFICATION_NOT_FOUND")));

    // Each change published its event; every send published the brief's notification.sent.
    let events = poll(std::time::Duration::from_secs(20), || async {
        let events = app.all_events().await;
        let wanted = ["notification.cancelled", "notification.delivered", "notification.read"];
        wanted.iter().all(|w| events.iter().any(|e| e["event_type"] == *w)).then_some(events)
    })
    .await
    .expect("the three status events");
    let cancel = events.iter().find(|e| e["event_type"] == "notification.cancelled").unwrap();
    assert_eq!(
        (&cancel["payload"]["notification_id"], &cancel["payload"]["source"], &cancel["payload"]["reason"]),
        (&json!(scheduled), &json!("client"), &json!("order cancelled"))
    );
    let brief = events
        .iter()
        .find(|e| e["event_type"] == "notification.sent" && e["aggregate_id"] == id.as_str())
        .expect("notification.sent for the SMS");
    for field in ["event_type", "user_id", "notification_id", "channel", "timestamp"] {
        assert!(!brief["payload"][field].is_null(), "{field} in {brief}");
    }
    assert_eq!(brief["payload"]["user_id"], "u2");
    assert!(events.iter().any(|e| e["event_type"] == "sms.sent" && e["aggregate_id"] == id.as_str()));
}
