//! Provider routes: failover when a provider's breaker opens, prefix routing, the order
//! coming back when the first provider recovers, and failover on a permanent refusal.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use herald::{
    config::{Config, FailoverOnPermanent, ProviderEntry, RouteConfig},
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
    providers::{
        mock::{MockAnswer, MockDelivery},
        MockProvider,
    },
};
use herald_domain::Channel;

use crate::helpers::{on_both_backends, poll, Backend, TestApp};

on_both_backends!(
    when_the_first_provider_is_down_its_breaker_opens_and_the_second_takes_the_backlog,
    messages_go_to_the_provider_of_their_longest_matching_prefix,
    the_first_provider_takes_messages_again_once_its_breaker_closes,
    a_permanent_refusal_the_route_lists_goes_to_the_next_provider,
    a_route_with_smart_encoding_sends_typographic_text_as_gsm7,
    a_message_without_a_sender_gets_its_routes_sender_else_the_default,
);

/// A provider that is down (every call fails retryably) until switched up.
struct Switch {
    name: String,
    down: AtomicBool,
    calls: AtomicU64,
    delivered: Mutex<Vec<String>>,
}

impl Switch {
    fn new(name: &str, down: bool) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            down: AtomicBool::new(down),
            calls: AtomicU64::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }

    fn delivered(&self) -> Vec<String> {
        self.delivered.lock().unwrap().clone()
    }
}

#[async_trait]
impl Provider for Switch {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, message: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return Err(ProviderError::Retryable {
                reason: format!("{} is down", self.name),
                retry_after: None,
            });
        }
        self.delivered.lock().unwrap().push(message.message_id.to_string());
        Ok(ProviderReceipt { provider_message_id: None })
    }
}

/// An SMS provider entry whose breaker opens after 3 failed calls and stays open
/// `open_secs`; one good trial call closes it.
fn entry(name: &str, open_secs: u64) -> ProviderEntry {
    let mut entry =
        ProviderEntry { name: name.into(), channels: vec![Channel::Sms], ..ProviderEntry::default() };
    let breaker = &mut entry.limits.breaker;
    (breaker.window, breaker.min_calls, breaker.failure_rate) = (3, 3, 0.5);
    (breaker.open_secs, breaker.half_open_calls) = (open_secs, 1);
    entry
}

fn route(prefixes: &[&str], providers: &[&str]) -> RouteConfig {
    RouteConfig {
        channel: Channel::Sms,
        prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
        providers: providers.iter().map(|p| (*p).to_owned()).collect(),
        failover_on_permanent: FailoverOnPermanent::default(),
        smart_encoding: false,
        sender: None,
    }
}

/// Two providers, `a` then `b`, on the SMS default route; retries enough that no message
/// runs out of them while `a`'s breaker learns it is down.
fn a_then_b(config: &mut Config, open_secs: u64) {
    config.providers = vec![entry("a", open_secs), entry("b", 3600)];
    config.routes = vec![route(&[], &["a", "b"])];
    config.channels.sms.max_retries = Some(20);
}

async fn send_all(app: &TestApp, count: usize, to: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        ids.push(app.send_notification(to, &format!("message {n}")).await);
    }
    ids
}

async fn when_the_first_provider_is_down_its_breaker_opens_and_the_second_takes_the_backlog(
    backend: Backend,
) {
    let (a, b) = (Switch::new("a", true), Switch::new("b", false));
    let providers: Vec<Arc<dyn Provider>> = vec![a.clone(), b.clone()];
    let Some(app) = TestApp::spawn_with_providers(backend, |c| a_then_b(c, 3600), providers).await else {
        return;
    };

    let ids = send_all(&app, 20, "+254712345678").await;
    for id in &ids {
        let sent = app.wait_for_status(id, "sent").await;
        assert_eq!(sent["provider"], "b", "{sent}");
    }

    assert!(a.delivered().is_empty());
    let mut delivered = b.delivered();
    delivered.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(delivered, expected, "b sent every message, each once");
    let a_calls = a.calls.load(Ordering::Relaxed);
    assert!(
        (3..20).contains(&a_calls),
        "a was called until its breaker opened, not for every message: {a_calls}"
    );
    app.wait_for_metric(r#"herald_breaker_state{provider="a"}"#, 2.0).await;
    app.wait_for_metric(r#"herald_messages_sent_total{channel="sms",provider="b"}"#, 20.0).await;
    assert_eq!(app.metric(r#"herald_messages_dead_lettered_total{provider="a"}"#).await, None);
    assert_eq!(app.metric(r#"herald_messages_dead_lettered_total{provider="b"}"#).await, None);
    assert!(
        app.metric(r#"herald_provider_failovers_total{provider="a",reason="breaker_open"}"#).await
            >= Some(1.0)
    );
}

async fn messages_go_to_the_provider_of_their_longest_matching_prefix(backend: Backend) {
    let (kenya, safaricom, others) =
        (Switch::new("ke", false), Switch::new("ke-saf", false), Switch::new("intl", false));
    let providers: Vec<Arc<dyn Provider>> = vec![kenya.clone(), safaricom.clone(), others.clone()];
    let configure = |c: &mut Config| {
        c.providers = vec![entry("ke", 60), entry("ke-saf", 60), entry("intl", 60)];
        c.routes = vec![route(&["+254"], &["ke"]), route(&["+25471"], &["ke-saf"]), route(&[], &["intl"])];
    };
    let Some(app) = TestApp::spawn_with_providers(backend, configure, providers).await else {
        return;
    };

    let to_safaricom = app.send_notification("+254712345678", "hello").await;
    let to_kenya = app.send_notification("+254733123456", "hello").await;
    let to_netherlands = app.send_notification("+31633450007", "hello").await;
    for (id, provider) in [(&to_safaricom, "ke-saf"), (&to_kenya, "ke"), (&to_netherlands, "intl")] {
        let sent = app.wait_for_status(id, "sent").await;
        assert_eq!(sent["provider"], provider, "{sent}");
    }
    assert_eq!(safaricom.delivered(), [to_safaricom]);
    assert_eq!(kenya.delivered(), [to_kenya]);
    assert_eq!(others.delivered(), [to_netherlands]);
}

async fn the_first_provider_takes_messages_again_once_its_breaker_closes(backend: Backend) {
    let (a, b) = (Switch::new("a", true), Switch::new("b", false));
    let providers: Vec<Arc<dyn Provider>> = vec![a.clone(), b.clone()];
    let Some(app) = TestApp::spawn_with_providers(backend, |c| a_then_b(c, 1), providers).await else {
        return;
    };

    // a is down: its breaker opens and b takes over.
    for id in send_all(&app, 5, "+254712345678").await {
        assert_eq!(app.wait_for_status(&id, "sent").await["provider"], "b");
    }
    app.wait_for_metric(r#"herald_breaker_state{provider="a"}"#, 2.0).await;

    // a recovers: a trial call (once its open time is over) closes the breaker.
    a.down.store(false, Ordering::Relaxed);
    let recovered = poll(Duration::from_secs(30), || async {
        let id = app.send_notification("+254712345678", "probe").await;
        let sent = app.wait_for_status(&id, "sent").await;
        (sent["provider"] == "a").then_some(())
    })
    .await;
    assert!(recovered.is_some(), "a took no message after it recovered");
    app.wait_for_metric(r#"herald_breaker_state{provider="a"}"#, 0.0).await;

    // The route's order holds again: a first.
    let b_before = b.delivered().len();
    let ids = send_all(&app, 10, "+254712345678").await;
    for id in &ids {
        assert_eq!(app.wait_for_status(id, "sent").await["provider"], "a");
    }
    assert_eq!(b.delivered().len(), b_before, "b took nothing once a was back");
}

async fn a_permanent_refusal_the_route_lists_goes_to_the_next_provider(backend: Backend) {
    let a = Arc::new(MockProvider::new(1.0, Duration::ZERO).named("a").serving(&[Channel::Sms]).recording());
    let b = Arc::new(MockProvider::new(1.0, Duration::ZERO).named("b").serving(&[Channel::Sms]).recording());
    a.push_script([MockAnswer::Permanent("HTTP 403: unsupported destination".into())]);
    b.push_script([MockAnswer::Accept, MockAnswer::Permanent("HTTP 400: number blocked".into())]);
    let providers: Vec<Arc<dyn Provider>> = vec![a.clone(), b.clone()];
    let configure = |c: &mut Config| {
        a_then_b(c, 60);
        c.routes[0].failover_on_permanent =
            FailoverOnPermanent::Reasons(vec!["unsupported destination".into()]);
    };
    let Some(app) = TestApp::spawn_with_providers(backend, configure, providers).await else {
        return;
    };

    // a refuses the first for a reason the route lists: b sends it.
    let first = app.send_notification("+254712345678", "one").await;
    let sent = app.wait_for_status(&first, "sent").await;
    assert_eq!(sent["provider"], "b");
    assert_eq!(a.calls(), 1);
    assert!(a.deliveries().is_empty());
    app.wait_for_metric(r#"herald_provider_failovers_total{provider="a",reason="permanent"}"#, 1.0).await;

    // a accepts the second itself. A third that a refuses goes to b, and b's own permanent
    // refusal (it is the last provider) fails the message as before.
    let second = app.send_notification("+254712345678", "two").await;
    assert_eq!(app.wait_for_status(&second, "sent").await["provider"], "a");
    a.push_script([MockAnswer::Permanent("HTTP 403: unsupported destination".into())]);
    let third = app.send_notification("+254712345678", "three").await;
    let failed = app.wait_for_status(&third, "failed").await;
    assert_eq!(failed["provider"], "b");
    assert_eq!(failed["last_error"], "HTTP 400: number blocked");
    assert_eq!(failed["retry_count"], 0, "a permanent refusal is not retried");
    assert_eq!((a.calls(), b.calls()), (3, 2));
}

/// "“Don’t miss it” – 50% off": UCS-2 as typed (curly quotes, an en dash).
const TYPOGRAPHIC: &str = "\u{201C}Don\u{2019}t miss it\u{201D} \u{2013} 50% off";

async fn a_route_with_smart_encoding_sends_typographic_text_as_gsm7(backend: Backend) {
    let mock = Arc::new(MockProvider::new(1.0, Duration::ZERO).named("m").recording());
    let Some(app) = TestApp::spawn_with_providers(
        backend,
        |config: &mut Config| {
            config.providers = vec![ProviderEntry { name: "m".into(), ..entry("m", 30) }];
            let mut kenya = route(&["+254"], &["m"]);
            kenya.smart_encoding = true;
            config.routes = vec![kenya, route(&[], &["m"])];
        },
        vec![mock.clone()],
    )
    .await
    else {
        return;
    };
    let send = |to: &'static str, body: String| {
        let app = &app;
        async move {
            let response = app
                .post_json(
                    "/api/v1/notifications/send",
                    &serde_json::json!({"channel": "sms", "to": to, "body": body}),
                )
                .await;
            assert_eq!(response.status(), 202);
            let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            app.wait_for_status(&id, "sent").await
        }
    };
    // 100 characters: one GSM-7 part once smart-encoded, two UCS-2 parts as typed.
    let long = format!("{TYPOGRAPHIC} {}", "x".repeat(100 - TYPOGRAPHIC.chars().count() - 1));
    let kenyan = send("+254712345678", long.clone()).await;
    assert_eq!(
        kenyan["body"],
        format!("\"Don't miss it\" - 50% off {}", "x".repeat(100 - TYPOGRAPHIC.chars().count() - 1))
    );
    assert_eq!(kenyan["segments"], 1);
    let dutch = send("+31612345678", long.clone()).await;
    assert_eq!(dutch["body"], long.as_str(), "a route without smart encoding sends the text as typed");
    assert_eq!(dutch["segments"], 2);

    // A campaign message rendered for the Kenyan route is smart-encoded too.
    let template = format!("Hi {{first_name}}, {TYPOGRAPHIC}");
    let delivered = send_campaign(&app, &mock, "+254712345679", &template).await;
    let stored = app.wait_for_status(&delivered.message_id.to_string(), "sent").await;
    assert_eq!(stored["segments"], 1, "the rendered, smart-encoded text's segments are stored");
    assert_eq!(delivered.body, "Hi Amina, \"Don't miss it\" - 50% off");
    app.stop().await;
}

async fn a_message_without_a_sender_gets_its_routes_sender_else_the_default(backend: Backend) {
    let mock = Arc::new(MockProvider::new(1.0, Duration::ZERO).named("m").recording());
    let Some(app) = TestApp::spawn_with_providers(
        backend,
        |config: &mut Config| {
            config.providers = vec![entry("m", 30)];
            // Kenya takes an alphanumeric sender; the Netherlands route gives a number.
            let mut kenya = route(&["+254"], &["m"]);
            kenya.sender = Some("ACME".into());
            let mut dutch = route(&["+31"], &["m"]);
            dutch.sender = Some("+3197010000000".into());
            config.routes = vec![kenya, dutch, route(&[], &["m"])];
        },
        vec![mock.clone()],
    )
    .await
    else {
        return;
    };
    let send = |body: serde_json::Value| {
        let app = &app;
        async move {
            let response = app.post_json("/api/v1/notifications/send", &body).await;
            assert_eq!(response.status(), 202);
            let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            app.wait_for_status(&id, "sent").await
        }
    };
    let kenyan = send(serde_json::json!({"channel": "sms", "to": "+254712345678", "body": "hi"})).await;
    assert_eq!(kenyan["from"], "ACME");
    let dutch = send(serde_json::json!({"channel": "sms", "to": "+31612345678", "body": "hi"})).await;
    assert_eq!(dutch["from"], "+3197010000000");
    let other = send(serde_json::json!({"channel": "sms", "to": "+14155550123", "body": "hi"})).await;
    assert_eq!(other["from"], "herald", "no route sender: sms.default_sender");
    let named =
        send(serde_json::json!({"channel": "sms", "to": "+254712345678", "body": "hi", "from": "SHOP"}))
            .await;
    assert_eq!(named["from"], "SHOP", "the request's own sender wins");

    // A campaign message takes its route's sender when it is rendered.
    let delivered = send_campaign(&app, &mock, "+254712345679", "Hi {first_name}").await;
    assert_eq!(delivered.from.as_deref(), Some("ACME"));
    app.stop().await;
}

/// Sends a one-customer campaign with `template` to `phone`; what the provider got.
async fn send_campaign(app: &TestApp, mock: &MockProvider, phone: &str, template: &str) -> MockDelivery {
    let customer =
        app.post_json("/api/v1/customers", &serde_json::json!({"phone": phone, "first_name": "Amina"})).await;
    let customer = customer.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    let campaign = app
        .post_json(
            "/campaigns",
            &serde_json::json!({"name": "Sale", "channel": "sms", "base_template": template}),
        )
        .await;
    let campaign = campaign.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    let sent = app
        .post_json(&format!("/campaigns/{campaign}/send"), &serde_json::json!({"customer_ids": [customer]}))
        .await;
    assert_eq!(sent.status(), 202);
    poll(Duration::from_secs(20), || async { mock.deliveries().into_iter().find(|d| d.to == phone) })
        .await
        .expect("the campaign message was sent")
}
