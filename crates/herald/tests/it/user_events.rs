//! Identity events from RabbitMQ into the contact directory: applied in timestamp order
//! whatever order they arrive in, idempotent, invalid ones dead-lettered with the reason.

use std::time::Duration;

use herald::app::Roles;
use serde_json::{json, Value};

use crate::{
    broker::TestBroker,
    helpers::{on_both_backends, poll, Backend, TestApp},
};

on_both_backends!(
    rabbitmq;
    user_events_are_applied_last_writer_wins_and_invalid_ones_dead_lettered,
);

const DEADLINE: Duration = Duration::from_secs(30);

fn event(kind: &str, user_id: &Value, at: &str, payload: Option<Value>) -> Vec<u8> {
    let mut event = json!({"event_id": uuid::Uuid::now_v7().to_string(), "event_type": kind, "user_id": user_id, "timestamp": at});
    if let Some(payload) = payload {
        event["payload"] = payload;
    }
    event.to_string().into_bytes()
}

async fn user(app: &TestApp, id: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/users/{id}")))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn user_events_are_applied_last_writer_wins_and_invalid_ones_dead_lettered(backend: Backend) {
    let Some(broker) = TestBroker::connect().await else { return };
    let Some(app) = TestApp::spawn_with(backend, Roles::ALL, |c| broker.configure(c)).await else { return };

    let created = event(
        "user.created",
        &json!(12345),
        "2026-12-05T10:00:00Z",
        Some(json!({"email": "amina@example.com", "locale": "sw-KE"})),
    );
    let updated = event(
        "user.updated",
        &json!("12345"),
        "2026-12-05T10:05:00Z",
        Some(json!({"email": "amina@work.example", "time_zone": "Africa/Nairobi"})),
    );
    // The update arrives first, then the older create, then the update again (a redelivery).
    broker.publish_user_event(&updated).await;
    broker.publish_user_event(&created).await;
    broker.publish_user_event(&updated).await;
    // Not an event herald can apply: dead-lettered with why, and the consumer goes on.
    broker
        .publish_user_event(
            br#"{"event_type": "user.renamed", "user_id": 1, "timestamp": "2026-12-05T10:00:00Z"}"#,
        )
        .await;
    let gone_later = event("user.deleted", &json!("usr_9"), "2026-12-05T11:00:00Z", None);
    let before_delete = event(
        "user.updated",
        &json!("usr_9"),
        "2026-12-05T10:59:00Z",
        Some(json!({"phone": "+254712345678"})),
    );
    broker.publish_user_event(&gone_later).await;
    broker.publish_user_event(&before_delete).await;
    let marker = event("user.created", &json!("marker"), "2026-12-05T12:00:00Z", Some(json!({})));
    broker.publish_user_event(&marker).await;

    // Events of one queue are applied in the order they arrive: once the last is in, all are.
    let applied = poll(DEADLINE, || async { (user(&app, "marker").await.0 == 200).then_some(()) }).await;
    assert!(applied.is_some(), "the events were applied");
    let (status, amina) = user(&app, "12345").await;
    assert_eq!(status, 200);
    assert_eq!(amina["email"], "amina@work.example", "the later change stays: {amina}");
    assert_eq!(amina["time_zone"], "Africa/Nairobi");
    assert!(amina["locale"].is_null(), "the older create did not come back: {amina}");
    assert_eq!(user(&app, "usr_9").await.0, 404, "an update from before the delete does not undo it");

    let (body, reason) = broker
        .next_dead_letter_of(&broker.config.user_events_dead_letter_queue)
        .await
        .expect("dead-lettered");
    assert!(String::from_utf8_lossy(&body).contains("user.renamed"));
    assert!(reason.unwrap_or_default().contains("unknown event_type"));
    app.wait_for_metric(r#"herald_amqp_user_events_total{outcome="rejected"}"#, 1.0).await;
    app.wait_for_metric(r#"herald_amqp_user_events_total{outcome="stale"}"#, 2.0).await;
    app.stop().await;
    broker.cleanup().await;
}
