//! The dispatcher: retries, final failure, success after a failure.

use herald::providers::mock::MockAnswer;

use crate::helpers::{on_both_backends, Backend, TestApp};

on_both_backends!(
    a_message_whose_attempts_all_fail_ends_failed_with_its_error_and_retry_count,
    a_message_that_fails_once_then_succeeds_ends_sent,
    a_permanent_error_fails_the_message_without_retrying,
);

async fn a_message_whose_attempts_all_fail_ends_failed_with_its_error_and_retry_count(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.mock.push_script((0..4).map(|n| MockAnswer::Retryable(format!("provider down ({n})"))));

    let id = app.send_notification("+254712345678", "hello").await;
    let failed = app.wait_for_status(&id, "failed").await;

    assert_eq!(failed["retry_count"], 3, "default: 3 retries after the first attempt");
    assert_eq!(failed["attempts"], 4);
    assert_eq!(failed["last_error"], "provider down (3)");
    assert_eq!(app.mock.calls(), 4, "no attempt beyond the maximum");
    let timeline: Vec<&str> =
        failed["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        timeline,
        ["accepted", "attempt_failed", "attempt_failed", "attempt_failed", "attempt_failed"]
    );
    let events = app.all_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "notification.failed");
    assert_eq!(events[0]["aggregate_id"], id.as_str());
    assert!(app.mock.deliveries().is_empty());
    app.wait_for_metric(r#"herald_messages_retried_total{provider="mock"}"#, 3.0).await;
    app.wait_for_metric(r#"herald_messages_dead_lettered_total{provider="mock"}"#, 1.0).await;
    app.wait_for_metric(r#"herald_attempts_failed_total{provider="mock"}"#, 4.0).await;
    app.wait_for_metric(r#"herald_messages_accepted_total{channel="sms"}"#, 1.0).await;
    app.wait_for_metric("herald_queue_depth", 0.0).await;
}

async fn a_message_that_fails_once_then_succeeds_ends_sent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.mock.push_script([MockAnswer::Retryable("timeout".into())]);

    let id = app.send_notification("+254712345678", "hello").await;
    let sent = app.wait_for_status(&id, "sent").await;

    assert_eq!(sent["retry_count"], 1);
    assert_eq!(sent["attempts"], 2);
    assert_eq!(sent["last_error"], serde_json::Value::Null, "a success clears the last error");
    assert_eq!(app.mock.calls(), 2);
    assert_eq!(app.mock.deliveries().len(), 1);
    let events = app.all_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "sms.sent");
    assert_eq!(events[0]["payload"]["attempt"], 2);
    app.wait_for_metric(r#"herald_messages_sent_total{channel="sms",provider="mock"}"#, 1.0).await;
    app.wait_for_metric(r#"herald_provider_latency_seconds_count{provider="mock"}"#, 2.0).await;
}

async fn a_permanent_error_fails_the_message_without_retrying(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.mock.push_script([MockAnswer::Permanent("number blocked".into())]);

    let id = app.send_notification("+254712345678", "hello").await;
    let failed = app.wait_for_status(&id, "failed").await;

    assert_eq!(failed["retry_count"], 0);
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["last_error"], "number blocked");
    assert_eq!(app.mock.calls(), 1);
}
