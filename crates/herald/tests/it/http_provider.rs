//! The HTTP provider against `herald mock-provider`: delivery, and every fault it can
//! simulate (500, 429 with Retry-After, hanging, cut-off answers).

use std::time::Duration;

use herald::mock_provider::Knobs;
use serde_json::Value;

use crate::helpers::{on_both_backends, poll, wait_until, Backend, MockProviderServer, TestApp};

on_both_backends!(
    messages_reach_the_http_provider_once_with_their_reference,
    each_provider_fault_is_retried_until_the_provider_recovers,
    a_provider_that_keeps_failing_dead_letters_after_exactly_the_maximum_attempts,
    retry_after_from_a_429_sets_the_next_attempt,
    the_breaker_opens_on_a_failing_provider_and_closes_after_it_recovers,
    a_one_per_second_limit_spaces_provider_calls,
    the_provider_bulkhead_bounds_calls_in_flight,
    the_channel_bulkhead_bounds_its_sends_in_flight,
    a_channel_can_have_its_own_maximum_retries,
);

fn healthy() -> Knobs {
    Knobs::default()
}

async fn messages_reach_the_http_provider_once_with_their_reference(backend: Backend) {
    let provider = MockProviderServer::start(healthy()).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| provider.configure(c)).await
    else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.send_notification("+254712345678", &format!("hello {n}")).await);
    }
    for id in &ids {
        let sent = app.wait_for_status(id, "sent").await;
        assert_eq!(sent["provider"], "mockhttp");
        assert!(sent["provider_message_id"].as_str().unwrap().starts_with("mp-"), "{sent}");
    }
    let stats = provider.stats().await;
    assert_eq!((stats.calls, stats.accepted, stats.duplicates), (5, 5, 0));
    let mut references: Vec<String> =
        provider.received().await.into_iter().map(|r| r.reference.unwrap()).collect();
    references.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(references, expected, "herald's message id travels as the provider reference");
}

async fn each_provider_fault_is_retried_until_the_provider_recovers(backend: Backend) {
    let provider = MockProviderServer::start(healthy()).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.dispatch.max_retries = 10_000; // this test is about recovery, not giving up
        c.dispatch.provider_timeout_ms = 300;
        c.provider.limits.breaker.enabled = false; // nor about the breaker
    })
    .await
    else {
        return;
    };
    let faults = [
        (&["HTTP 500"][..], Knobs { failure_rate: 1.0, ..healthy() }),
        (&["HTTP 429"], Knobs { throttle_rate: 1.0, retry_after_secs: 0, ..healthy() }),
        (&["did not answer within 300 ms"], Knobs { hang_rate: 1.0, ..healthy() }),
        // Depending on timing the break shows while reading the headers or the body.
        (&["cut off", "connection error"], Knobs { drop_rate: 1.0, ..healthy() }),
    ];
    let mut delivered = 0;
    for (expected_errors, knobs) in faults {
        provider.set_knobs(&knobs).await;
        let id = app.send_notification("+254712345678", expected_errors[0]).await;
        let failing = poll(Duration::from_secs(20), || async {
            let message = app.get_json(&format!("/api/v1/notifications/{id}")).await;
            (message["retry_count"].as_u64() >= Some(2)).then_some(message)
        })
        .await
        .expect("the fault causes retries");
        let error = failing["last_error"].as_str().unwrap_or_default();
        assert!(
            expected_errors.iter().any(|e| error.contains(e)),
            "{expected_errors:?}: last_error was {error:?}"
        );

        provider.set_knobs(&healthy()).await;
        app.wait_for_status(&id, "sent").await;
        delivered += 1;
        let stats = provider.stats().await;
        assert_eq!(stats.accepted, delivered, "{expected_errors:?}: delivered once");
        assert_eq!(stats.duplicates, 0);
    }
}

async fn a_provider_that_keeps_failing_dead_letters_after_exactly_the_maximum_attempts(backend: Backend) {
    let provider = MockProviderServer::start(Knobs { failure_rate: 1.0, ..healthy() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.provider.limits.breaker.enabled = false; // this test counts attempts, not the breaker
    })
    .await
    else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.send_notification("+254712345678", &format!("doomed {n}")).await);
    }
    for id in &ids {
        let failed = app.wait_for_status(id, "failed").await;
        assert_eq!(failed["retry_count"], 3);
        assert!(failed["last_error"].as_str().unwrap().starts_with("HTTP 500"));
    }
    assert_eq!(provider.stats().await.calls, 5 * 4, "first attempt + 3 retries each, never more");

    provider.set_knobs(&healthy()).await;
    let replay = app.post_json("/api/v1/dead-letters/replay", &serde_json::json!({"all": true})).await;
    assert_eq!(replay.json::<Value>().await.unwrap()["replayed"], 5);
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    let stats = provider.stats().await;
    assert_eq!((stats.calls, stats.accepted, stats.duplicates), (25, 5, 0));
}

async fn retry_after_from_a_429_sets_the_next_attempt(backend: Backend) {
    let provider =
        MockProviderServer::start(Knobs { throttle_rate: 1.0, retry_after_secs: 30, ..healthy() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| provider.configure(c)).await
    else {
        return;
    };
    let id = app.send_notification("+254712345678", "later please").await;
    app.assert_retry_waits(&id, chrono::Duration::seconds(30)).await;
    // Nothing is sent before the provider's time: no second call arrives meanwhile.
    assert!(!wait_until(Duration::from_millis(300), || async { provider.stats().await.calls > 1 }).await);
}

async fn the_breaker_opens_on_a_failing_provider_and_closes_after_it_recovers(backend: Backend) {
    let provider = MockProviderServer::start(Knobs { failure_rate: 1.0, ..healthy() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        let breaker = &mut c.provider.limits.breaker;
        (breaker.window, breaker.min_calls, breaker.open_secs, breaker.half_open_calls) = (10, 4, 1, 2);
        // The breaker opens on the 4th failed call: the first message, sent while the others
        // are still being posted, may make all four. Retries it has left are what shows
        // that the open breaker then makes it wait instead of fail.
        c.dispatch.max_retries = 20;
    })
    .await
    else {
        return;
    };
    let state = r#"herald_breaker_state{provider="mockhttp"}"#;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(app.send_notification("+254712345678", &format!("wait for me {n}")).await);
    }
    app.wait_for_metric(state, 2.0).await;

    provider.set_knobs(&healthy()).await;
    for id in &ids {
        let sent = app.wait_for_status(id, "sent").await;
        // At most the calls before the breaker opened and a half-open trial or two: the
        // calls it refused meanwhile are not attempts.
        assert!(sent["retry_count"].as_u64().unwrap() <= 8, "{sent}");
    }
    app.wait_for_metric(state, 0.0).await;
    let counts = app.store.status_counts().await.unwrap();
    assert_eq!((counts.sent, counts.failed), (10, 0), "an open breaker makes messages wait, never fail");
    assert_eq!(provider.stats().await.accepted, 10);
}

async fn a_one_per_second_limit_spaces_provider_calls(backend: Backend) {
    let provider = MockProviderServer::start(healthy()).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.provider.limits.rate_per_sec = Some(1.0);
    })
    .await
    else {
        return;
    };
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(app.send_notification("+254712345678", &format!("slowly {n}")).await);
    }
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    let mut arrivals: Vec<_> = provider.received().await.into_iter().map(|r| r.received_at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= chrono::Duration::milliseconds(900), "calls {gap} apart break the 1/s limit");
    }
}

/// Sends `count` messages at once to a provider answering after 200 ms, waits until all are
/// sent, and returns the most calls the provider saw in progress at the same moment.
async fn peak_in_flight_for(
    backend: Backend,
    count: usize,
    configure: impl FnOnce(&mut herald::config::Config),
) -> Option<u64> {
    let provider = MockProviderServer::start(Knobs { latency_ms: 200, ..healthy() }).await;
    let app = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        configure(c);
    })
    .await?;
    let bodies: Vec<String> = (0..count).map(|n| format!("crowd {n}")).collect();
    let ids =
        futures::future::join_all(bodies.iter().map(|body| app.send_notification("+254712345678", body)))
            .await;
    for id in &ids {
        app.wait_for_status(id, "sent").await;
    }
    let stats = provider.stats().await;
    assert_eq!((stats.accepted, stats.duplicates), (count as u64, 0));
    Some(stats.peak_in_flight)
}

async fn the_provider_bulkhead_bounds_calls_in_flight(backend: Backend) {
    let Some(peak) = peak_in_flight_for(backend, 20, |c| c.provider.limits.max_concurrency = 3).await else {
        return;
    };
    assert_eq!(peak, 3, "at most 3 calls at once, and the budget is used");
}

async fn the_channel_bulkhead_bounds_its_sends_in_flight(backend: Backend) {
    let Some(peak) = peak_in_flight_for(backend, 20, |c| c.channels.sms.max_concurrency = 2).await else {
        return;
    };
    assert_eq!(peak, 2, "at most 2 SMS sends at once, though the provider allows 1024");
}

async fn a_channel_can_have_its_own_maximum_retries(backend: Backend) {
    let provider = MockProviderServer::start(Knobs { failure_rate: 1.0, ..healthy() }).await;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        provider.configure(c);
        c.provider.limits.breaker.enabled = false;
        c.dispatch.max_retries = 3;
        c.channels.sms.max_retries = Some(1);
    })
    .await
    else {
        return;
    };
    let id = app.send_notification("+254712345678", "two tries only").await;
    let failed = app.wait_for_status(&id, "failed").await;
    assert_eq!(failed["retry_count"], 1);
    assert_eq!(provider.stats().await.calls, 2, "the first attempt and the channel's one retry");
}
