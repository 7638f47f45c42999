//! Sends by template (the brief's form of `POST /api/v1/notifications/send`) and the
//! user's preferences at `/api/v1/preferences/user/{user_id}`, on both backends: rendering,
//! versions, the cache, `send_at`, quiet hours across time zones and midnight, suppression,
//! and the 422s that store nothing.

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Timelike, Utc};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, Backend, TestApp};

on_both_backends!(
    sends_by_template_render_the_context_and_keep_the_version,
    template_sends_name_what_is_missing_and_store_nothing,
    send_at_schedules_and_the_message_goes_when_due,
    quiet_hours_hold_back_until_they_end_in_the_users_time_zone,
    preferences_suppress_with_the_reason_and_an_event,
    preferences_are_read_replaced_and_validated,
);

async fn put(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, out) = app.call(reqwest::Method::PUT, path, Some(&body)).await;
    assert!(status == 200 || status == 201, "PUT {path}: {status} {out}");
    out
}

async fn create_template(app: &TestApp, body: Value) -> Value {
    let (status, out) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&body)).await;
    assert_eq!(status, 201, "{out}");
    out
}

async fn send(app: &TestApp, body: Value) -> (u16, Value) {
    app.call(reqwest::Method::POST, "/api/v1/notifications/send", Some(&body)).await
}

async fn accepted(app: &TestApp, body: Value) -> Value {
    let (status, out) = send(app, body.clone()).await;
    assert_eq!(status, 202, "{body} -> {out}");
    out
}

async fn messages_stored(app: &TestApp) -> u64 {
    app.store.status_counts().await.unwrap().total()
}

fn shipped() -> Value {
    json!({"name": "order_shipped", "type": "email", "subject": "Order {order_id} shipped",
        "body": "Hi {first_name|there}, order {order_id} is on its way.",
        "html": "<p>Hi {first_name|there}, order <b>{order_id}</b></p>",
        "variables": [{"name": "order_id"}, {"name": "first_name", "required": false}], "category": "shipping"})
}

async fn ada(app: &TestApp) {
    put(
        app,
        "/api/v1/users/12345",
        json!({"email": "ada@example.com", "phone": "+254712345678", "push_tokens": ["device-token-1"],
               "time_zone": "Africa/Nairobi"}),
    )
    .await;
}

async fn sends_by_template_render_the_context_and_keep_the_version(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ada(&app).await;
    let template = create_template(&app, shipped()).await;
    let template_id = template["id"].as_str().unwrap().to_owned();

    // The brief's form: a numeric user id, the template by name, a context.
    let out = accepted(
        &app,
        json!({"user_id": 12345, "template": "order_shipped", "context": {"order_id": 1042, "first_name": "<Ada & co>"}}),
    )
    .await;
    assert_eq!(out["status"], "pending");
    let sent = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["channel"], "email");
    assert_eq!(sent["to"], "ada@example.com");
    assert_eq!(sent["user_id"], "12345");
    assert_eq!(sent["subject"], "Order 1042 shipped");
    assert_eq!(sent["body"], "Hi <Ada & co>, order 1042 is on its way.");
    // Context values are escaped into the HTML body, the template's own markup is not.
    assert_eq!(sent["html"], "<p>Hi &lt;Ada &amp; co&gt;, order <b>1042</b></p>");
    assert_eq!((&sent["template_id"], &sent["template_version"]), (&json!(template_id), &json!(1)));

    // A change is seen by the next send at once (the cache is invalidated), and the message
    // keeps the version it was rendered from.
    let mut changed = shipped();
    changed["subject"] = json!("Your order {order_id} is on its way");
    put(&app, &format!("/api/v1/templates/{template_id}"), changed).await;
    let out =
        accepted(&app, json!({"user_id": "12345", "template": template_id, "context": {"order_id": "7"}}))
            .await;
    let sent = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(
        (&sent["subject"], &sent["template_version"]),
        (&json!("Your order 7 is on its way"), &json!(2))
    );
    assert_eq!(sent["body"], "Hi there, order 7 is on its way.", "fallback for a missing optional variable");

    // The channel may be given (the user's phone then), and `to` replaces the user's address.
    let out = accepted(
        &app,
        json!({"user_id": 12345, "template": "order_shipped", "channel": "sms", "context": {"order_id": "8"}}),
    )
    .await;
    let sms = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(
        (&sms["channel"], &sms["to"], &sms["subject"]),
        (&json!("sms"), &json!("+254712345678"), &Value::Null)
    );
    let out = accepted(
        &app,
        json!({"user_id": 12345, "template": "order_shipped", "to": "grace@example.org", "context": {"order_id": "9"}}),
    )
    .await;
    let other = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(other["to"], "grace@example.org");
    // Without a user, `to` alone is enough.
    let out = accepted(
        &app,
        json!({"template": "order_shipped", "to": "lin@example.org", "context": {"order_id": "10"}}),
    )
    .await;
    let anonymous = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(anonymous["user_id"], Value::Null);

    // The direct form keeps working, and takes a user id for the history.
    let out =
        accepted(&app, json!({"channel": "sms", "to": "+254712345679", "body": "direct", "user_id": 12345}))
            .await;
    let direct = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!((&direct["user_id"], &direct["template_id"]), (&json!("12345"), &Value::Null));
}

async fn template_sends_name_what_is_missing_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ada(&app).await;
    put(&app, "/api/v1/users/no-phone", json!({"email": "np@example.com"})).await;
    create_template(&app, shipped()).await;
    let gone = create_template(&app, json!({"name": "gone", "type": "sms", "body": "bye"})).await;
    let (status, _) = app
        .call(reqwest::Method::DELETE, &format!("/api/v1/templates/{}", gone["id"].as_str().unwrap()), None)
        .await;
    assert_eq!(status, 204);
    let before = messages_stored(&app).await;

    let cases = [
        (json!({"user_id": 12345, "template": "nope", "context": {}}), "template", "names no template"),
        (json!({"user_id": 12345, "template": "gone"}), "template", "is deleted"),
        (json!({"user_id": 12345, "template": gone["id"]}), "template", "is deleted"),
        (
            json!({"user_id": 12345, "template": "order_shipped", "context": {"first_name": "A"}}),
            "context.order_id",
            "is required",
        ),
        (
            json!({"user_id": 12345, "template": "order_shipped", "context": {"order_id": ""}}),
            "context.order_id",
            "is required",
        ),
        (
            json!({"user_id": 99, "template": "order_shipped", "context": {"order_id": 1}}),
            "user_id",
            "names no user",
        ),
        (
            json!({"template": "order_shipped", "context": {"order_id": 1}}),
            "user_id",
            "is required unless 'to'",
        ),
        (
            json!({"user_id": "no-phone", "template": "order_shipped", "channel": "sms", "context": {"order_id": 1}}),
            "user_id",
            "has no phone number for sms",
        ),
        (
            json!({"user_id": 12345, "template": "order_shipped", "channel": "push", "to": "not a token", "context": {"order_id": 1}}),
            "to",
            "",
        ),
        (
            json!({"user_id": 12345, "template": "order_shipped", "body": "x", "context": {"order_id": 1}}),
            "body",
            "not a field of a send by template",
        ),
        (
            json!({"user_id": 12.5, "template": "order_shipped", "context": {"order_id": 1}}),
            "user_id",
            "whole number",
        ),
        (
            json!({"user_id": 12345, "template": "order_shipped", "channel": "whatsapp", "context": {"order_id": 1}}),
            "channel",
            "not supported",
        ),
        (
            json!({"channel": "sms", "to": "+254712345678", "body": "x", "context": {}}),
            "context",
            "send by template",
        ),
    ];
    for (body, field, problem) in cases {
        let (status, out) = send(&app, body.clone()).await;
        assert_eq!((status, &out["error"]["field"]), (422, &json!(field)), "{body} -> {out}");
        assert_eq!(out["error"]["code"], "VALIDATION_ERROR");
        assert!(out["error"]["message"].as_str().unwrap().contains(problem), "{body} -> {out}");
    }
    // An SMS template has no subject: it cannot be sent as an email.
    create_template(
        &app,
        json!({"name": "otp", "type": "sms", "body": "Code {code}", "variables": [{"name": "code"}]}),
    )
    .await;
    let (status, out) = send(
        &app,
        json!({"user_id": 12345, "template": "otp", "channel": "email", "context": {"code": "1"}}),
    )
    .await;
    assert_eq!((status, &out["error"]["field"]), (422, &json!("channel")), "{out}");
    assert_eq!(messages_stored(&app).await, before, "no refused send stored anything");
}

async fn send_at_schedules_and_the_message_goes_when_due(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ada(&app).await;
    create_template(
        &app,
        json!({"name": "otp", "type": "sms", "body": "Code {code}", "variables": [{"name": "code"}]}),
    )
    .await;

    let later = (Utc::now() + Duration::hours(2)).with_nanosecond(0).unwrap();
    let out = accepted(
        &app,
        json!({"user_id": 12345, "template": "otp", "context": {"code": "1"}, "send_at": later.to_rfc3339()}),
    )
    .await;
    assert_eq!(out["status"], "scheduled");
    let held = app.get_json(&format!("/api/v1/notifications/{}", out["id"].as_str().unwrap())).await;
    assert_eq!(held["status"], "scheduled");
    assert_eq!(held["next_attempt_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), later);
    let kinds: Vec<&str> =
        held["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["accepted", "scheduled"]);

    // A send_at a moment ahead is sent once due; one in the past is sent now.
    let soon = Utc::now() + Duration::milliseconds(1500);
    let out = accepted(
        &app,
        json!({"channel": "sms", "to": "+254712345678", "body": "soon", "send_at": soon.to_rfc3339()}),
    )
    .await;
    assert_eq!(out["status"], "scheduled");
    let sent = app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    let sent_at: DateTime<Utc> = sent["sent_at"].as_str().unwrap().parse().unwrap();
    // Times are kept to the millisecond (SQLite) or microsecond (PostgreSQL).
    let due = chrono::SubsecRound::trunc_subsecs(soon, 3);
    assert!(sent_at >= due, "not sent before its send_at ({sent_at} < {due})");
    let out = accepted(
        &app,
        json!({"user_id": 12345, "template": "otp", "context": {"code": "2"}, "send_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(out["status"], "pending");
    app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    assert_eq!(
        app.get_json(&format!("/api/v1/notifications/{}", held["id"].as_str().unwrap())).await["status"],
        "scheduled",
        "the two-hour one still waits"
    );
}

/// A fixed-offset IANA zone (`Etc/GMT-3` is UTC+3) in which `at` is between 23:00 and
/// 23:59 local time, so that a window from 22:00 to 02:00 holds it across midnight.
fn zone_where_it_is_late_evening(at: DateTime<Utc>) -> (String, i64) {
    // Local hour 23 needs an offset of 23 - hour (mod 24), within -12..=+14.
    let mut offset = (23 - i64::from(at.hour())).rem_euclid(24);
    if offset > 14 {
        offset -= 24;
    }
    // Etc/GMT signs are inverted: Etc/GMT-3 is three hours ahead of UTC.
    let name = match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name, offset)
}

async fn quiet_hours_hold_back_until_they_end_in_the_users_time_zone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Late evening there now, and still inside 22:00-02:00 however slow the test is.
    let now = Utc::now();
    let (late_zone, offset) = zone_where_it_is_late_evening(now);
    let (day_zone, _) = zone_where_it_is_late_evening(now + Duration::hours(12)); // local ~11:00
    put(&app, "/api/v1/users/night", json!({"phone": "+254712345601", "time_zone": late_zone})).await;
    put(&app, "/api/v1/users/day", json!({"phone": "+254712345602", "time_zone": day_zone})).await;
    let quiet = json!({"quiet_hours": {"start": "22:00", "end": "02:00"}});
    put(&app, "/api/v1/preferences/user/night", quiet.clone()).await;
    put(&app, "/api/v1/preferences/user/day", quiet).await;
    create_template(&app, json!({"name": "promo", "type": "sms", "body": "Sale!", "category": "marketing"}))
        .await;
    create_template(
        &app,
        json!({"name": "otp", "type": "sms", "body": "Code {code}", "transactional": true}),
    )
    .await;

    // Late evening for "night": held until 02:00 the next local day.
    let out = accepted(&app, json!({"user_id": "night", "template": "promo"})).await;
    assert_eq!(out["status"], "scheduled");
    let held = app.get_json(&format!("/api/v1/notifications/{}", out["id"].as_str().unwrap())).await;
    let zone = chrono::FixedOffset::east_opt((offset * 3600) as i32).unwrap();
    let created = held["created_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap().with_timezone(&zone);
    // 02:00 of the next local day when sent before midnight, of the same day after it.
    let end_day =
        if created.hour() >= 22 { created.date_naive() + Duration::days(1) } else { created.date_naive() };
    let expected = zone
        .from_local_datetime(&end_day.and_time(NaiveTime::from_hms_opt(2, 0, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(held["next_attempt_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), expected);
    let detail = held["events"][1]["detail"].as_str().unwrap();
    assert!(detail.contains("quiet hours 22:00–02:00") && detail.contains(&late_zone), "{detail}");

    // A transactional template is not held; the same window at another user's midday holds nothing.
    let out = accepted(&app, json!({"user_id": "night", "template": "otp", "context": {"code": "1"}})).await;
    assert_eq!(out["status"], "pending");
    let out = accepted(&app, json!({"user_id": "day", "template": "promo"})).await;
    assert_eq!(out["status"], "pending");
    app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
}

async fn preferences_suppress_with_the_reason_and_an_event(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ada(&app).await;
    put(
        &app,
        "/api/v1/preferences/user/12345",
        json!({"channels": {"push": false}, "opted_out_categories": ["marketing"]}),
    )
    .await;
    create_template(&app, json!({"name": "promo", "type": "sms", "body": "Sale!", "category": "marketing"}))
        .await;
    create_template(
        &app,
        json!({"name": "receipt", "type": "sms", "body": "Paid", "category": "marketing", "transactional": true}),
    )
    .await;
    create_template(&app, json!({"name": "otp_push", "type": "push", "body": "Code", "transactional": true}))
        .await;

    let out = accepted(&app, json!({"user_id": 12345, "template": "promo"})).await;
    assert_eq!(out["status"], "suppressed");
    let promo_id = out["id"].as_str().unwrap().to_owned();
    let suppressed = app.get_json(&format!("/api/v1/notifications/{promo_id}")).await;
    assert_eq!(suppressed["status"], "suppressed");
    assert!(
        suppressed["last_error"].as_str().unwrap().contains("opted out of \"marketing\""),
        "{suppressed}"
    );
    assert_eq!(suppressed["events"][1]["type"], "suppressed");

    // Transactional: the category opt-out does not hold, a channel switched off does.
    let out = accepted(&app, json!({"user_id": 12345, "template": "receipt"})).await;
    app.wait_for_status(out["id"].as_str().unwrap(), "sent").await;
    let out = accepted(&app, json!({"user_id": 12345, "template": "otp_push"})).await;
    assert_eq!(out["status"], "suppressed");
    let push_id = out["id"].as_str().unwrap().to_owned();

    let found = poll(std::time::Duration::from_secs(20), || async {
        let events = app.all_events().await;
        let suppressed: Vec<Value> =
            events.into_iter().filter(|e| e["event_type"] == "notification.suppressed").collect();
        (suppressed.len() == 2).then_some(suppressed)
    })
    .await
    .expect("two notification.suppressed events");
    let event = found.iter().find(|e| e["aggregate_id"] == promo_id.as_str()).expect("the promo's event");
    assert_eq!(event["user_id"], "12345");
    assert_eq!(
        (&event["payload"]["notification_id"], &event["payload"]["channel"]),
        (&json!(promo_id), &json!("sms"))
    );
    assert!(event["payload"]["reason"].as_str().unwrap().contains("marketing"));
    assert!(found.iter().any(|e| e["aggregate_id"] == push_id.as_str()
        && e["payload"]["reason"].as_str().unwrap().contains("switched push notifications off")));
    assert!(app.mock.deliveries().iter().all(|m| m.body != "Sale!"), "a suppressed message is never sent");
}

async fn preferences_are_read_replaced_and_validated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let defaults = app.get_json("/api/v1/preferences/user/12345").await;
    assert_eq!(
        defaults,
        json!({"user_id": "12345", "channels": {"sms": true, "whatsapp": true, "email": true, "push": true},
               "opted_out_categories": [], "quiet_hours": null, "updated_at": null})
    );
    let stored = put(
        &app,
        "/api/v1/preferences/user/12345",
        json!({"channels": {"sms": false}, "opted_out_categories": ["marketing", "news"],
               "quiet_hours": {"start": "22:30", "end": "06:45"}}),
    )
    .await;
    assert_eq!(stored["channels"], json!({"sms": false, "whatsapp": true, "email": true, "push": true}));
    assert_eq!(stored["quiet_hours"], json!({"start": "22:30", "end": "06:45"}));
    assert!(stored["updated_at"].is_string());
    assert_eq!(app.get_json("/api/v1/preferences/user/12345").await, stored);
    // A replacement: what is left out takes its default.
    let replaced = put(&app, "/api/v1/preferences/user/12345", json!({"channels": {"email": false}})).await;
    assert_eq!(replaced["channels"], json!({"sms": true, "whatsapp": true, "email": false, "push": true}));
    assert_eq!((&replaced["opted_out_categories"], &replaced["quiet_hours"]), (&json!([]), &Value::Null));

    for (body, field) in [
        (json!({"quiet_hours": {"start": "24:00", "end": "06:00"}}), Some("quiet_hours.start")),
        (json!({"quiet_hours": {"start": "22:00", "end": "6:00"}}), Some("quiet_hours.end")),
        (json!({"opted_out_categories": ["Marketing"]}), Some("opted_out_categories")),
        (json!({"channels": {"fax": true}}), None),
        (json!({"channels": {"sms": "no"}}), None),
    ] {
        let (status, out) =
            app.call(reqwest::Method::PUT, "/api/v1/preferences/user/12345", Some(&body)).await;
        assert_eq!(status, 422, "{body} -> {out}");
        if let Some(field) = field {
            assert_eq!(out["error"]["field"], field, "{body} -> {out}");
        }
    }
    assert_eq!(
        app.get_json("/api/v1/preferences/user/12345").await,
        replaced,
        "refused writes changed nothing"
    );
}
