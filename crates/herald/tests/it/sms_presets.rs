//! The SMS API presets (Twilio, Africa's Talking, Vonage, Infobip) against `herald
//! mock-provider` speaking each one's wire format: what herald sends (authentication,
//! fields, numbers, encoding, client reference, receipt URL), the provider's message id it
//! keeps, and how each provider's error codes, throttling and failures are classified.
//! One app routes by prefix to the four providers, each behind its own mock.

use std::time::Duration;

use herald::{
    config::{
        AfricasTalkingConfig, Config, FailoverOnPermanent, InfobipConfig, ProviderEntry, ProviderKind,
        RouteConfig, Secret, TwilioConfig, VonageConfig,
    },
    mock_provider::{Format, Knobs, Received},
};
use herald_domain::Channel;
use serde_json::Value;

use crate::helpers::{on_both_backends, poll, Backend, MockProviderServer, TestApp};

on_both_backends!(
    each_preset_sends_in_its_wire_format_and_keeps_the_providers_message_id,
    each_preset_fails_an_invalid_number_and_bad_credentials_by_its_own_codes,
    each_preset_retries_throttling_and_failures_answered_in_its_own_shape,
    a_route_fails_over_from_one_preset_to_another,
);

/// herald's public address in these tests: receipts are asked for, and signed, at it.
pub const PUBLIC_URL: &str = "https://herald.example.com";
pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// Every preset's credential (auth token, API key, API secret) in these tests.
pub const SECRET: &str = "right-secret";
pub const VONAGE_SIGNATURE_SECRET: &str = "vonage-signature-secret";
pub const WEBHOOK_TOKEN: &str = "s3cret-webhook-token";

/// The presets, each with the prefix one app routes to it and a number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Twilio,
    AfricasTalking,
    Vonage,
    Infobip,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Self::Twilio, Self::AfricasTalking, Self::Vonage, Self::Infobip];

    pub fn name(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::AfricasTalking => "africastalking",
            Self::Vonage => "vonage",
            Self::Infobip => "infobip",
        }
    }

    fn format(self) -> Format {
        match self {
            Self::Twilio => Format::Twilio,
            Self::AfricasTalking => Format::Africastalking,
            Self::Vonage => Format::Vonage,
            Self::Infobip => Format::Infobip,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Twilio => "+1",
            Self::AfricasTalking => "+254",
            Self::Vonage => "+44",
            Self::Infobip => "+41",
        }
    }

    /// A valid number routed to this preset; `n` tells numbers apart.
    pub fn number(self, n: u32) -> String {
        let national = match self {
            Self::Twilio => "415555",
            Self::AfricasTalking => "71255",
            Self::Vonage => "791112",
            Self::Infobip => "79302",
        };
        format!("{}{national}{:04}", self.prefix(), 1000 + n)
    }

    /// A number the mock refuses as invalid (it ends in 0001).
    fn invalid_number(self) -> String {
        let valid = self.number(0);
        format!("{}0001", &valid[..valid.len() - 4])
    }

    /// The provider entry pointing at `mock`, with `secret` as its credential.
    fn entry(self, mock: &MockProviderServer, secret: &str) -> ProviderEntry {
        let base_url = Some(mock.base_url.clone());
        let secret = Some(Secret::new(secret));
        let mut entry = ProviderEntry {
            name: self.name().into(),
            channels: vec![Channel::Sms],
            timeout_ms: Some(5_000),
            ..ProviderEntry::default()
        };
        entry.limits.breaker.enabled = false; // these tests count answers, not the breaker
        match self {
            Self::Twilio => {
                entry.kind = ProviderKind::Twilio;
                entry.twilio = TwilioConfig {
                    account_sid: TWILIO_SID.into(),
                    auth_token: secret,
                    base_url,
                    ..Default::default()
                };
            }
            Self::AfricasTalking => {
                entry.kind = ProviderKind::Africastalking;
                entry.africastalking = AfricasTalkingConfig {
                    username: "sandbox".into(),
                    api_key: secret,
                    base_url,
                    webhook_token: Some(Secret::new(WEBHOOK_TOKEN)),
                };
            }
            Self::Vonage => {
                entry.kind = ProviderKind::Vonage;
                entry.vonage = VonageConfig {
                    api_key: "vonage-key".into(),
                    api_secret: secret,
                    signature_secret: Some(Secret::new(VONAGE_SIGNATURE_SECRET)),
                    base_url,
                    ..Default::default()
                };
            }
            Self::Infobip => {
                entry.kind = ProviderKind::Infobip;
                entry.infobip = InfobipConfig {
                    api_key: secret,
                    base_url: mock.base_url.clone(),
                    webhook_token: Some(Secret::new(WEBHOOK_TOKEN)),
                };
            }
        }
        entry
    }

    /// Where herald asks this provider to send receipts (Africa's Talking's is set in its
    /// dashboard instead).
    fn expected_callback(self) -> Option<String> {
        let url = format!("{PUBLIC_URL}/webhooks/providers/{}/status", self.name());
        match self {
            Self::Twilio | Self::Vonage => Some(url),
            Self::AfricasTalking => None,
            Self::Infobip => Some(format!("{url}?token={WEBHOOK_TOKEN}")),
        }
    }
}

/// One mock per preset, and an app that routes each preset's prefix to its mock.
pub struct PresetWorld {
    pub app: TestApp,
    mocks: Vec<(Preset, MockProviderServer)>,
}

impl PresetWorld {
    pub async fn start(
        backend: Backend,
        secret: &str,
        knobs: Knobs,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        let mut mocks = Vec::new();
        for preset in Preset::ALL {
            mocks.push((preset, MockProviderServer::start_format(preset.format(), knobs.clone()).await));
        }
        let app = TestApp::spawn_with_providers(
            backend,
            |config| {
                config.public_url = Some(PUBLIC_URL.into());
                config.providers = mocks.iter().map(|(preset, mock)| preset.entry(mock, secret)).collect();
                config.routes = Preset::ALL
                    .iter()
                    .map(|preset| RouteConfig {
                        channel: Channel::Sms,
                        prefixes: vec![preset.prefix().into()],
                        providers: vec![preset.name().into()],
                        failover_on_permanent: Default::default(),
                        smart_encoding: false,
                        sender: None,
                    })
                    .collect();
                configure(config);
            },
            Vec::new(),
        )
        .await?;
        Some(Self { app, mocks })
    }

    pub fn mock(&self, preset: Preset) -> &MockProviderServer {
        &self.mocks.iter().find(|(p, _)| *p == preset).expect("a mock per preset").1
    }

    /// Sends an SMS from `from`; returns its id.
    pub async fn send(&self, to: &str, body: &str) -> String {
        let request = serde_json::json!({"channel": "sms", "to": to, "body": body, "from": "HERALD"});
        let response = self.app.post_json("/api/v1/notifications/send", &request).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap_or_default());
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// Sends one SMS through `preset` and waits until it is `sent`; returns it.
    pub async fn sent_through(&self, preset: Preset, n: u32) -> Value {
        let id = self.send(&preset.number(n), "Your code is 1234").await;
        self.app.wait_for_status(&id, "sent").await
    }
}

fn healthy() -> Knobs {
    Knobs::default()
}

async fn each_preset_sends_in_its_wire_format_and_keeps_the_providers_message_id(backend: Backend) {
    let Some(world) = PresetWorld::start(backend, SECRET, healthy(), |_| {}).await else {
        return;
    };
    for preset in Preset::ALL {
        // Vonage garbles a text that is not GSM-7 unless it is sent as unicode.
        let body =
            if preset == Preset::Vonage { "Karibu 👋 — your code is 1234" } else { "Your code is 1234" };
        let id = world.send(&preset.number(1), body).await;
        let sent = world.app.wait_for_status(&id, "sent").await;
        assert_eq!(sent["provider"], preset.name());
        let received: Vec<Received> = world.mock(preset).received().await;
        assert_eq!(received.len(), 1, "{preset:?}: one call");
        let call = &received[0];
        assert_eq!(sent["provider_message_id"], call.id.as_str(), "{preset:?}: the provider's id is kept");
        assert_eq!(call.body_chars, body.chars().count(), "{preset:?}");
        assert_eq!(
            call.status_callback,
            preset.expected_callback(),
            "{preset:?}: receipts asked for at public_url"
        );
        let (account, to, reference) = match preset {
            Preset::Twilio => (TWILIO_SID, preset.number(1), None),
            Preset::AfricasTalking => ("sandbox", preset.number(1), None),
            // Vonage and Infobip take the number without '+', and herald's id as the client reference.
            Preset::Vonage => ("vonage-key", preset.number(1)[1..].to_owned(), Some(id.clone())),
            Preset::Infobip => (SECRET, preset.number(1)[1..].to_owned(), Some(id.clone())),
        };
        assert_eq!(
            call.account.as_deref(),
            Some(account),
            "{preset:?}: authenticated as the configured account"
        );
        assert_eq!(call.to, to, "{preset:?}");
        assert_eq!(call.reference, reference, "{preset:?}");
        assert_eq!(call.from.as_deref(), Some("HERALD"), "{preset:?}");
        if preset == Preset::Vonage {
            assert_eq!(call.encoding.as_deref(), Some("unicode"));
        }
    }
}

async fn each_preset_fails_an_invalid_number_and_bad_credentials_by_its_own_codes(backend: Backend) {
    let Some(world) = PresetWorld::start(backend, SECRET, healthy(), |_| {}).await else {
        return;
    };
    for preset in Preset::ALL {
        let id = world.send(&preset.invalid_number(), "hello").await;
        let failed = world.app.wait_for_status(&id, "failed").await;
        assert_eq!(failed["retry_count"], 0, "{preset:?}: a permanent error is not retried");
        let expected = match preset {
            Preset::Twilio => "Twilio 21211 (HTTP 400): Invalid 'To' Phone Number",
            Preset::AfricasTalking => "Africa's Talking 403: InvalidPhoneNumber",
            Preset::Vonage => "Vonage 3: Invalid Message",
            Preset::Infobip => "Infobip REJECTED_DESTINATION: Destination address is not valid",
        };
        let error = failed["last_error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{preset:?}: {error}");
    }
    // The refused number is reported as unreachable where the provider's code says so.
    let events = world.app.all_events().await;
    let failed: Vec<(&str, bool)> = events
        .iter()
        .filter(|e| e["event_type"] == "notification.failed")
        .map(|e| {
            (e["payload"]["provider"].as_str().unwrap(), e["payload"]["recipient_invalid"].as_bool().unwrap())
        })
        .collect();
    for (provider, invalid) in
        [("twilio", true), ("africastalking", true), ("vonage", false), ("infobip", true)]
    {
        assert!(failed.contains(&(provider, invalid)), "{provider}: {failed:?}");
    }

    let Some(misconfigured) = PresetWorld::start(backend, "wrong", healthy(), |_| {}).await else {
        return;
    };
    for preset in Preset::ALL {
        let id = misconfigured.send(&preset.number(2), "hello").await;
        let failed = misconfigured.app.wait_for_status(&id, "failed").await;
        let expected = match preset {
            Preset::Twilio => "Twilio 20003 (HTTP 401)",
            Preset::AfricasTalking => "Africa's Talking (HTTP 401)",
            Preset::Vonage => "Vonage 4: Bad Credentials",
            Preset::Infobip => "Infobip UNAUTHORIZED (HTTP 401)",
        };
        let error = failed["last_error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{preset:?}: {error}");
        assert!(!error.contains("wrong"), "{preset:?}: no credential in last_error: {error}");
    }
}

async fn each_preset_retries_throttling_and_failures_answered_in_its_own_shape(backend: Backend) {
    let throttled = Knobs { throttle_rate: 1.0, retry_after_secs: 30, ..healthy() };
    let Some(world) = PresetWorld::start(backend, SECRET, throttled, |c| c.dispatch.max_retries = 50).await
    else {
        return;
    };
    for preset in Preset::ALL {
        let id = world.send(&preset.number(3), "slow down").await;
        let waiting = match preset {
            // Vonage says "throttled" in a 200 without Retry-After: herald backs off.
            Preset::Vonage => poll(Duration::from_secs(20), || async {
                let message = world.app.get_json(&format!("/api/v1/notifications/{id}")).await;
                (message["retry_count"].as_u64() >= Some(1)).then_some(message)
            })
            .await
            .expect("the throttled answer is retried"),
            _ => world.app.assert_retry_waits(&id, chrono::Duration::seconds(30)).await,
        };
        let expected = match preset {
            Preset::Twilio => "Twilio 20429 (HTTP 429)",
            Preset::AfricasTalking => "Africa's Talking (HTTP 429)",
            Preset::Vonage => "Vonage 1: Throughput Rate Exceeded",
            Preset::Infobip => "Infobip TOO_MANY_REQUESTS (HTTP 429)",
        };
        let error = waiting["last_error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{preset:?}: {error}");
    }

    // Failures, in each provider's shape, are retried until the provider recovers.
    for preset in Preset::ALL {
        world.mock(preset).set_knobs(&Knobs { failure_rate: 1.0, ..healthy() }).await;
    }
    for preset in Preset::ALL {
        let id = world.send(&preset.number(4), "try again").await;
        let failing = poll(Duration::from_secs(20), || async {
            let message = world.app.get_json(&format!("/api/v1/notifications/{id}")).await;
            (message["retry_count"].as_u64() >= Some(2)).then_some(message)
        })
        .await
        .expect("the failure is retried");
        let expected = match preset {
            Preset::Twilio => "Twilio 20500 (HTTP 500)",
            Preset::AfricasTalking => "Africa's Talking 500: InternalServerError",
            Preset::Vonage => "Vonage 5: Internal Error",
            Preset::Infobip => "Infobip GENERAL_ERROR (HTTP 500)",
        };
        let error = failing["last_error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{preset:?}: {error}");
        world.mock(preset).set_knobs(&healthy()).await;
        world.app.wait_for_status(&id, "sent").await;
        let number = preset.number(4);
        let accepted = world.mock(preset).received().await;
        let calls = accepted.iter().filter(|r| r.to.trim_start_matches('+') == &number[1..]).count();
        assert_eq!(calls, 1, "{preset:?}: sent once it recovered, once");
    }
}

async fn a_route_fails_over_from_one_preset_to_another(backend: Backend) {
    // Twilio refuses herald's credentials; the +1 route goes on to Infobip for that refusal.
    let Some(world) = PresetWorld::start(backend, SECRET, healthy(), |config| {
        config.providers[0].twilio.auth_token = Some(Secret::new("wrong"));
        let route = config.routes.iter_mut().find(|r| r.providers == ["twilio"]).unwrap();
        route.providers.push("infobip".into());
        route.failover_on_permanent = FailoverOnPermanent::Reasons(vec!["Twilio 20003".into()]);
    })
    .await
    else {
        return;
    };
    let id = world.send(&Preset::Twilio.number(5), "through the second provider").await;
    let sent = world.app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["provider"], "infobip");
    let received = world.mock(Preset::Infobip).received().await;
    assert_eq!(received.iter().filter(|r| r.reference.as_deref() == Some(id.as_str())).count(), 1);
    assert!(world.mock(Preset::Twilio).received().await.is_empty(), "Twilio accepted nothing");
}
