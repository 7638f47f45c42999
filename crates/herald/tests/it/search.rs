//! Message search (`GET /api/v1/notifications`), on both backends: each filter, paging
//! with the cursor, validation, and accounts kept apart (in the overview too).

use std::{collections::BTreeSet, time::Duration};

use herald::providers::mock::MockAnswer;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, Backend, TestApp};

on_both_backends!(
    search_finds_notifications_by_status_channel_recipient_and_campaign_newest_first,
    search_pages_follow_the_cursor_through_every_match_once,
    search_refuses_bad_filters_with_a_400_naming_the_parameter,
    another_accounts_notifications_are_invisible_to_search_and_overview,
);

const ADA: &str = "+254712345678";
const BARAKA: &str = "+254712345679";

async fn send(app: &TestApp, key: Option<&str>, body: Value) -> String {
    let path = "/api/v1/notifications/send";
    let (status, out) = match key {
        Some(key) => app.call_as(key, Method::POST, path, Some(&body)).await,
        None => app.call(Method::POST, path, Some(&body)).await,
    };
    assert_eq!(status, 202, "{body} -> {out}");
    out["id"].as_str().unwrap().to_owned()
}

fn sms(to: &str, body: &str) -> Value {
    json!({"channel": "sms", "to": to, "body": body})
}

/// The ids of one page of a search (`query` without `?`).
async fn search(app: &TestApp, query: &str) -> Vec<String> {
    let page = app.get_json(&format!("/api/v1/notifications?{query}")).await;
    ids(&page["data"])
}

fn ids(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

/// `+` written as a query string needs it.
fn encoded(phone: &str) -> String {
    phone.replace('+', "%2B")
}

/// A campaign sent to one new customer at `phone`: the campaign's id and its message's.
async fn campaign_to(app: &TestApp, phone: &str) -> (i64, String) {
    let customer: Value = app
        .post_json("/api/v1/customers", &json!({"phone": phone, "first_name": "Amani"}))
        .await
        .json()
        .await
        .unwrap();
    let campaign: Value = app
        .post_json("/campaigns", &json!({"name": "Promo", "channel": "sms", "base_template": "Hello"}))
        .await
        .json()
        .await
        .unwrap();
    let campaign = campaign["id"].as_i64().unwrap();
    let send = json!({"customer_ids": [customer["id"]]});
    let response = app.post_json(&format!("/campaigns/{campaign}/send"), &send).await;
    assert_eq!(response.status(), 202);
    let query = format!("campaign_id={campaign}");
    let message = poll(Duration::from_secs(20), || async { search(app, &query).await.pop() }).await;
    (campaign, message.expect("the campaign's message is found by its campaign"))
}

async fn search_finds_notifications_by_status_channel_recipient_and_campaign_newest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.mock.push_script([MockAnswer::Permanent("number blocked".into())]);
    let failed = send(&app, None, sms(ADA, "first")).await;
    app.wait_for_status(&failed, "failed").await;
    let to_ada =
        send(&app, None, json!({"channel": "sms", "to": ADA, "body": "again", "user_id": "12345"})).await;
    let to_baraka = send(&app, None, sms(BARAKA, "hello")).await;
    let email = send(
        &app,
        None,
        json!({"channel": "email", "to": "ada@example.com", "subject": "Hi", "body": "Hello"}),
    )
    .await;
    for id in [&to_ada, &to_baraka, &email] {
        app.wait_for_status(id, "sent").await;
    }
    let (campaign, promo) = campaign_to(&app, "+254712345670").await;
    app.wait_for_status(&promo, "sent").await;

    let page = app.get_json("/api/v1/notifications").await;
    assert_eq!(
        ids(&page["data"]),
        [promo.as_str(), email.as_str(), to_baraka.as_str(), to_ada.as_str(), failed.as_str()]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["data"].as_array().unwrap();
    let keys: BTreeSet<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    let contract = [
        "id",
        "status",
        "channel",
        "recipient",
        "user_id",
        "campaign_id",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
    ];
    assert_eq!(keys, contract.into_iter().collect());
    assert_eq!(
        (&items[0]["campaign_id"], &items[0]["recipient"]),
        (&json!(campaign), &json!("+254712345670"))
    );
    assert_eq!((&items[3]["user_id"], &items[3]["campaign_id"]), (&json!("12345"), &Value::Null));
    let dead = &items[4];
    assert_eq!(
        (&dead["status"], &dead["attempts"], &dead["last_error"]),
        (&json!("failed"), &json!(1), &json!("number blocked"))
    );
    assert_eq!((&items[2]["attempts"], &items[2]["last_error"]), (&json!(1), &Value::Null));

    assert_eq!(search(&app, "status=failed").await, [failed.as_str()]);
    assert_eq!(search(&app, "channel=email").await, [email.as_str()]);
    assert_eq!(
        search(&app, &format!("recipient={}", encoded(ADA))).await,
        [to_ada.as_str(), failed.as_str()]
    );
    assert_eq!(search(&app, "recipient=ada@example.com").await, [email.as_str()]);
    assert_eq!(search(&app, &format!("campaign_id={campaign}")).await, [promo.as_str()]);
    let all_given = format!("status=sent&channel=sms&recipient={}", encoded(ADA));
    assert_eq!(search(&app, &all_given).await, [to_ada.as_str()]);
    assert!(search(&app, "recipient=%2B254700000000").await.is_empty());
    assert!(search(&app, &format!("campaign_id={}", campaign + 1)).await.is_empty());
    assert!(search(&app, "status=cancelled").await.is_empty());
}

async fn search_pages_follow_the_cursor_through_every_match_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut sent = Vec::new();
    for n in 0..7 {
        sent.push(send(&app, None, sms(ADA, &format!("m{n}"))).await);
    }
    let other = send(&app, None, sms(BARAKA, "not to ada")).await;
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();

    // Every page but the last is full; a new send between pages does not shift them.
    let query = format!("recipient={}&limit=3", encoded(ADA));
    let mut pages = Vec::new();
    let mut cursor = String::new();
    let mut late = Vec::new();
    loop {
        let page = app.get_json(&format!("/api/v1/notifications?{query}{cursor}")).await;
        pages.push(ids(&page["data"]));
        late.push(send(&app, None, sms(ADA, "late")).await);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), newest_first);

    // Exactly a page's worth: no cursor to an empty page.
    let everything = app.get_json("/api/v1/notifications?limit=11").await;
    assert_eq!(everything["data"].as_array().unwrap().len(), 11);
    assert_eq!(everything["next_cursor"], Value::Null);
    let mut expected: Vec<String> = late.iter().rev().cloned().collect();
    expected.push(other);
    expected.extend(newest_first);
    assert_eq!(ids(&everything["data"]), expected);
}

async fn search_refuses_bad_filters_with_a_400_naming_the_parameter(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for (query, field) in [
        ("status=lost", "status"),
        ("status=", "status"),
        ("channel=fax", "channel"),
        ("campaign_id=0", "campaign_id"),
        ("campaign_id=-4", "campaign_id"),
        ("campaign_id=abc", "campaign_id"),
        ("recipient=", "recipient"),
        ("recipient=%2B2547%00", "recipient"),
        ("cursor=abc", "cursor"),
        ("cursor=1_2", "cursor"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
    ] {
        let (status, out) = app.call(Method::GET, &format!("/api/v1/notifications?{query}"), None).await;
        assert_eq!(status, 400, "{query} -> {out}");
        assert_eq!(
            (&out["error"]["code"], &out["error"]["field"]),
            (&json!("BAD_REQUEST"), &json!(field)),
            "{query}"
        );
        assert!(out["error"]["message"].as_str().unwrap().contains(field), "{query} -> {out}");
    }
    let long = "a".repeat(4097);
    let (status, out) = app.call(Method::GET, &format!("/api/v1/notifications?recipient={long}"), None).await;
    assert_eq!((status, &out["error"]["field"]), (400, &json!("recipient")));
    // Query strings that do not even read as the parameters: a 400 in the same shape.
    for query in ["limit=many", "sort=oldest"] {
        let (status, out) = app.call(Method::GET, &format!("/api/v1/notifications?{query}"), None).await;
        assert_eq!((status, &out["error"]["code"]), (400, &json!("BAD_REQUEST")), "{query} -> {out}");
    }
    let (status, _) =
        app.call(Method::GET, "/api/v1/notifications?limit=200&campaign_id=9223372036854775807", None).await;
    assert_eq!(status, 200);
}

async fn another_accounts_notifications_are_invisible_to_search_and_overview(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let other = app.another_account().await;
    let ours = [send(&app, None, sms(ADA, "ours")).await, send(&app, None, sms(ADA, "ours too")).await];
    let theirs = send(&app, Some(&other), sms(ADA, "theirs")).await;
    for id in &ours {
        app.wait_for_status(id, "sent").await;
    }

    let (status, their_page) = app.call_as(&other, Method::GET, "/api/v1/notifications", None).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&their_page["data"]), [theirs.as_str()]);
    let to_ada = format!("/api/v1/notifications?recipient={}", encoded(ADA));
    let (_, their_search) = app.call_as(&other, Method::GET, &to_ada, None).await;
    assert_eq!(ids(&their_search["data"]), [theirs.as_str()]);
    assert_eq!(
        search(&app, &format!("recipient={}", encoded(ADA))).await,
        [ours[1].as_str(), ours[0].as_str()]
    );
    let (status, _) =
        app.call_as(&other, Method::GET, &format!("/api/v1/notifications/{}", ours[0]), None).await;
    assert_eq!(status, 404, "nor by id");

    let (_, their_overview) = app.call_as(&other, Method::GET, "/api/v1/overview", None).await;
    assert_eq!(their_overview["accepted"], 1);
    assert_eq!(app.get_json("/api/v1/overview").await["accepted"], 2);
}
