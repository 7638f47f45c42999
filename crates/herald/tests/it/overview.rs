//! The dashboard's overview (`GET /api/v1/overview`), on both backends: counts read from
//! the database, the queue, dead letters, and the breakers of the process's providers.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};
use herald::{app::Roles, providers::mock::MockAnswer};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, Backend, TestApp};

on_both_backends!(
    the_overview_counts_the_accounts_sends_failures_and_dead_letters_of_the_last_five_minutes,
    a_provider_that_keeps_failing_shows_its_breaker_open,
    a_process_without_workers_says_it_does_not_know_the_providers,
);

async fn overview(app: &TestApp) -> Value {
    app.get_json("/api/v1/overview").await
}

/// The numbers of an overview: accepted, sent, failed, dead letters.
fn counts(overview: &Value) -> [u64; 4] {
    ["accepted", "sent", "failed", "dead_letters"].map(|key| overview[key].as_u64().unwrap())
}

/// The breaker the overview shows for the mock provider's SMS.
fn mock_sms_breaker(overview: &Value) -> Option<String> {
    let providers = overview["providers"].as_array()?;
    let mock = providers.iter().find(|p| p["name"] == "mock" && p["channel"] == "sms")?;
    mock["breaker"].as_str().map(str::to_owned)
}

async fn the_overview_counts_the_accounts_sends_failures_and_dead_letters_of_the_last_five_minutes(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let empty = overview(&app).await;
    let keys: BTreeSet<&str> = empty.as_object().unwrap().keys().map(String::as_str).collect();
    let contract = [
        "generated_at",
        "window_seconds",
        "accepted",
        "sent",
        "failed",
        "per_minute",
        "queue",
        "dead_letters",
        "providers",
        "providers_known",
    ];
    assert_eq!(keys, contract.into_iter().collect());
    assert_eq!(counts(&empty), [0, 0, 0, 0]);
    assert_eq!(
        empty["queue"],
        json!({"depth": 0, "oldest_waiting_at": null, "oldest_waiting_age_seconds": null})
    );

    app.mock.push_script([
        MockAnswer::Permanent("number blocked".into()),
        MockAnswer::Permanent("blocked".into()),
    ]);
    let mut failed = Vec::new();
    for n in 0..2 {
        let id = app.send_notification("+254712345678", &format!("fails {n}")).await;
        app.wait_for_status(&id, "failed").await;
        failed.push(id);
    }
    for n in 0..3 {
        let id = app.send_notification("+254712345679", &format!("goes {n}")).await;
        app.wait_for_status(&id, "sent").await;
    }
    let later = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({"channel": "sms", "to": "+254712345679", "body": "later", "send_at": later});
    let (status, _) = app.call(reqwest::Method::POST, "/api/v1/notifications/send", Some(&body)).await;
    assert_eq!(status, 202);

    let now = overview(&app).await;
    assert_eq!(counts(&now), [6, 3, 2, 2]);
    assert_eq!(now["window_seconds"], 300);
    assert_eq!(now["per_minute"], json!({"accepted": 1.2, "sent": 0.6, "failed": 0.4}));
    // Only the scheduled one waits, and it is not due yet.
    assert_eq!(
        now["queue"],
        json!({"depth": 1, "oldest_waiting_at": null, "oldest_waiting_age_seconds": null})
    );
    let generated_at: DateTime<Utc> = now["generated_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - generated_at).num_seconds().abs() < 60, "{generated_at}");
    assert_eq!(now["providers_known"], true);
    assert_eq!(mock_sms_breaker(&now).as_deref(), Some("closed"));

    // A replayed dead letter is in flight again: no longer failed, then sent.
    let (status, _) = app
        .call(reqwest::Method::POST, &format!("/api/v1/dead-letters/{}/replay", failed[0]), Some(&json!({})))
        .await;
    assert_eq!(status, 202);
    app.wait_for_status(&failed[0], "sent").await;
    assert_eq!(counts(&overview(&app).await), [6, 4, 1, 1]);

    // Another account's overview counts none of it (the queue is every account's).
    let other = app.another_account().await;
    let (status, theirs) = app.call_as(&other, reqwest::Method::GET, "/api/v1/overview", None).await;
    assert_eq!(status, 200);
    assert_eq!(counts(&theirs), [0, 0, 0, 0]);
    assert_eq!(theirs["queue"]["depth"], 1);
}

async fn a_provider_that_keeps_failing_shows_its_breaker_open(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, Roles::ALL, |c| {
        let breaker = &mut c.provider.limits.breaker;
        (breaker.window, breaker.min_calls, breaker.open_secs) = (1, 1, 3600);
    })
    .await
    else {
        return;
    };
    assert_eq!(mock_sms_breaker(&overview(&app).await).as_deref(), Some("closed"));
    app.mock.push_script([MockAnswer::Retryable("provider down".into())]);
    let id = app.send_notification("+254712345678", "into an outage").await;

    let open = poll(Duration::from_secs(20), || async {
        let now = overview(&app).await;
        (mock_sms_breaker(&now).as_deref() == Some("open")).then_some(now)
    })
    .await
    .expect("the breaker opens after the failed call");
    // One breaker per provider: every channel the mock serves shows it open.
    let providers = open["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 4, "{providers:?}");
    assert!(providers.iter().all(|p| p["name"] == "mock" && p["breaker"] == "open"), "{providers:?}");
    // The breaker moves at the provider's answer, the message once its batch commits: it
    // waits for its retry; it has not failed.
    let message = app.wait_for_status(&id, "pending").await;
    assert_eq!(message["retry_count"], 1);
}

async fn a_process_without_workers_says_it_does_not_know_the_providers(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, Roles::API, |_| {}).await else {
        return;
    };
    app.send_notification("+254712345678", "nobody sends this").await;
    let now = overview(&app).await;
    assert_eq!((&now["providers_known"], &now["providers"]), (&json!(false), &json!([])));
    assert_eq!(counts(&now), [1, 0, 0, 0]);
    // Counted from the database like any other: the message waits, due already.
    assert_eq!(now["queue"]["depth"], 1);
    let oldest: DateTime<Utc> = now["queue"]["oldest_waiting_at"].as_str().unwrap().parse().unwrap();
    assert!(oldest <= Utc::now());
    assert!(now["queue"]["oldest_waiting_age_seconds"].as_f64().unwrap() >= 0.0);
}
