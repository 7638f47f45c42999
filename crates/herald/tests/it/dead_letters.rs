//! Dead letters: listing failed messages and replaying them.

use herald::providers::mock::MockAnswer;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp};

on_both_backends!(
    a_failed_message_is_a_dead_letter_and_replay_sends_it_again,
    dead_letters_page_filter_and_replay_in_bulk,
);

async fn fail_messages(app: &TestApp, count: usize) -> Vec<String> {
    app.mock.push_script((0..count).map(|_| MockAnswer::Permanent("number blocked".into())));
    let mut ids = Vec::new();
    for n in 0..count {
        let id = app.send_notification("+254712345678", &format!("message {n}")).await;
        app.wait_for_status(&id, "failed").await;
        ids.push(id);
    }
    ids
}

async fn a_failed_message_is_a_dead_letter_and_replay_sends_it_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let id = fail_messages(&app, 1).await.remove(0);

    let page = app.get_json("/api/v1/dead-letters").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], id.as_str());
    assert_eq!(page["data"][0]["last_error"], "number blocked");
    assert_eq!(page["next_cursor"], Value::Null);

    let replay = app.post_json(&format!("/api/v1/dead-letters/{id}/replay"), &json!({})).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.unwrap(), json!({"id": id, "status": "pending"}));

    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["retry_count"], 0, "a replay starts a fresh retry budget");
    let timeline: Vec<&str> =
        sent["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["accepted", "attempt_failed", "replayed", "attempt_succeeded"]);
    assert_eq!(app.mock.deliveries().len(), 1);
    assert_eq!(app.get_json("/api/v1/dead-letters").await["data"], json!([]));

    let again = app.post_json(&format!("/api/v1/dead-letters/{id}/replay"), &json!({})).await;
    assert_eq!(again.status(), 404, "a sent message is not a dead letter");
    assert_eq!(again.json::<Value>().await.unwrap()["error"]["code"], "DEAD_LETTER_NOT_FOUND");
    let types: Vec<String> =
        app.all_events().await.iter().map(|e| e["event_type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["notification.failed", "sms.sent"]);
}

async fn dead_letters_page_filter_and_replay_in_bulk(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut ids = fail_messages(&app, 5).await;
    ids.reverse(); // newest first

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get_json(&format!("/api/v1/dead-letters?limit=2&cursor={cursor}")).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every dead letter once, newest first");
    assert_eq!(app.get_json("/api/v1/dead-letters?channel=email").await["data"], json!([]));
    assert_eq!(app.get_json("/api/v1/dead-letters?provider=mock").await["data"].as_array().unwrap().len(), 5);

    for (query, status) in [("limit=0", 400), ("limit=501", 400), ("channel=fax", 400), ("cursor=nope", 400)]
    {
        assert_eq!(app.get(&format!("/api/v1/dead-letters?{query}")).await.status(), status, "{query}");
    }
    for body in [json!({}), json!({"ids": [ids[0]], "all": true}), json!({"all": true, "extra": 1})] {
        let response = app.post_json("/api/v1/dead-letters/replay", &body).await;
        assert_eq!(response.status(), 422, "{body}");
    }

    let unknown = "0190b3c4-0000-7000-8000-000000000000";
    let by_ids =
        app.post_json("/api/v1/dead-letters/replay", &json!({"ids": [ids[0], ids[1], unknown]})).await;
    assert_eq!(by_ids.status(), 202);
    assert_eq!(by_ids.json::<Value>().await.unwrap()["replayed"], 2, "unknown ids are skipped");
    let all = app.post_json("/api/v1/dead-letters/replay", &json!({"all": true, "channel": "sms"})).await;
    assert_eq!(all.json::<Value>().await.unwrap()["replayed"], 3);
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    assert_eq!(app.mock.deliveries().len(), 5);
}
