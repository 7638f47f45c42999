//! `[[providers]]`: the named providers herald sends through, each with its kind, the
//! channels it serves and its own limits. The older single `[provider]` (with
//! `[mock_provider]`) still works: it is one provider on every channel it serves.

use herald_domain::Channel;
use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Secret};

/// One `[[providers]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderEntry {
    /// Its name in `[[routes]]`, metrics, logs and `provider` fields; unique.
    pub name: String,
    pub kind: ProviderKind,
    /// The channels it serves (a route may name it only for these).
    pub channels: Vec<Channel>,
    /// Rate limit, breaker and concurrency budget, per provider.
    pub limits: ProviderLimits,
    /// A call that takes longer is abandoned and retried; unset: `dispatch.provider_timeout_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Used when `kind = "http"` (its `name` is ignored: the entry's name counts).
    pub http: HttpProviderConfig,
    /// Used when `kind = "mock"`.
    pub mock: MockProviderConfig,
    /// Used when `kind = "smtp"`.
    pub smtp: super::SmtpProviderConfig,
    /// Used when `kind = "fcm"`.
    pub fcm: super::FcmProviderConfig,
    /// Used when `kind = "twilio"`.
    pub twilio: super::TwilioConfig,
    /// Used when `kind = "africastalking"`.
    pub africastalking: super::AfricasTalkingConfig,
    /// Used when `kind = "vonage"`.
    pub vonage: super::VonageConfig,
    /// Used when `kind = "infobip"`.
    pub infobip: super::InfobipConfig,
}

impl Default for ProviderEntry {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: ProviderKind::Mock,
            channels: vec![Channel::Sms],
            limits: ProviderLimits::default(),
            timeout_ms: None,
            http: HttpProviderConfig::default(),
            mock: MockProviderConfig::default(),
            smtp: super::SmtpProviderConfig::default(),
            fcm: super::FcmProviderConfig::default(),
            twilio: super::TwilioConfig::default(),
            africastalking: super::AfricasTalkingConfig::default(),
            vonage: super::VonageConfig::default(),
            infobip: super::InfobipConfig::default(),
        }
    }
}

impl ProviderEntry {
    /// The provider the single `[provider]` section (and `[mock_provider]`) describes.
    pub fn from_legacy(provider: &ProviderConfig, mock: &MockProviderConfig) -> Self {
        let (name, channels) = match provider.kind {
            // The mock stands in for every channel, so `herald serve` sends anything locally.
            ProviderKind::Mock => ("mock".to_owned(), Channel::ALL.to_vec()),
            ProviderKind::Http => (provider.http.name.clone(), vec![Channel::Sms]),
            // Refused by validation: an SMTP relay is a [[providers]] entry.
            ProviderKind::Smtp => ("smtp".to_owned(), vec![Channel::Email]),
            ProviderKind::Fcm => ("fcm".to_owned(), vec![Channel::Push]),
            // Refused by validation too: the presets are [[providers]] entries.
            kind => (kind.as_str().to_owned(), vec![Channel::Sms]),
        };
        Self {
            name,
            kind: provider.kind,
            channels,
            limits: provider.limits.clone(),
            timeout_ms: None,
            http: provider.http.clone(),
            mock: mock.clone(),
            ..Self::default()
        }
    }

    /// The provider's timeout, given the dispatcher's default.
    pub fn timeout_ms(&self, dispatch: &super::DispatchConfig) -> u64 {
        self.timeout_ms.unwrap_or(dispatch.provider_timeout_ms)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let named = |reason: &str| format!("{reason} (provider \"{}\")", self.name);
        if self.name.trim().is_empty() {
            return invalid("providers.name", "must be set for every [[providers]] entry");
        }
        // Receipts come to /webhooks/providers/<name>/status: the name is a path segment.
        let url_safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if self.kind.is_sms_api() && !self.name.chars().all(url_safe) {
            return Err(ConfigError::Invalid {
                key: "providers.name",
                reason: named("may hold only letters, digits, '-', '_' and '.' for an SMS API preset (it is part of its receipt URL)"),
            });
        }
        if self.channels.is_empty() {
            return Err(ConfigError::Invalid {
                key: "providers.channels",
                reason: named("must name at least one channel"),
            });
        }
        if self.timeout_ms == Some(0) {
            return Err(ConfigError::Invalid {
                key: "providers.timeout_ms",
                reason: named("must be at least 1"),
            });
        }
        let in_entry = |error: ConfigError| match error {
            ConfigError::Invalid { key, reason } => ConfigError::Invalid { key, reason: named(&reason) },
            other => other,
        };
        if self.kind == ProviderKind::Http {
            validate_http(&self.http, Section::Providers).map_err(in_entry)?;
        }
        // Kinds that serve one channel, with their own settings.
        let single_channel = match self.kind {
            ProviderKind::Smtp => {
                Some((self.smtp.validate(), Channel::Email, "an SMTP provider serves [\"email\"] only"))
            }
            ProviderKind::Fcm => {
                Some((self.fcm.validate(), Channel::Push, "an FCM provider serves [\"push\"] only"))
            }
            ProviderKind::Twilio => Some((self.twilio.validate(), Channel::Sms, SMS_ONLY)),
            ProviderKind::Africastalking => Some((self.africastalking.validate(), Channel::Sms, SMS_ONLY)),
            ProviderKind::Vonage => Some((self.vonage.validate(), Channel::Sms, SMS_ONLY)),
            ProviderKind::Infobip => Some((self.infobip.validate(), Channel::Sms, SMS_ONLY)),
            ProviderKind::Mock | ProviderKind::Http => None,
        };
        if let Some((settings, channel, only)) = single_channel {
            settings.map_err(in_entry)?;
            if self.channels != [channel] {
                return Err(ConfigError::Invalid { key: "providers.channels", reason: named(only) });
            }
        }
        if !(0.0..=1.0).contains(&self.mock.success_rate) {
            return Err(ConfigError::Invalid {
                key: "providers.mock.success_rate",
                reason: named("must be between 0.0 and 1.0"),
            });
        }
        self.limits.validate_in(Section::Providers).map_err(in_entry)
    }
}

const SMS_ONLY: &str = "an SMS API preset serves [\"sms\"] only";

/// Which section a provider's keys are named after in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Provider,
    Providers,
}

impl Section {
    fn key(self, legacy: &'static str, entry: &'static str) -> &'static str {
        match self {
            Self::Provider => legacy,
            Self::Providers => entry,
        }
    }
}

fn validate_http(http: &HttpProviderConfig, section: Section) -> Result<(), ConfigError> {
    let url = &http.url;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return invalid(
            section.key("provider.http.url", "providers.http.url"),
            "must be an http:// or https:// URL when kind = \"http\"",
        );
    }
    if http.auth_header.is_some() != http.auth_value.is_some() {
        return invalid(
            section.key("provider.http.auth_header", "providers.http.auth_header"),
            "and http.auth_value must be set together",
        );
    }
    Ok(())
}

/// Which provider sends SMS (the single-provider form; see [`ProviderEntry`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Rate limit, breaker and concurrency budget for the provider.
    pub limits: ProviderLimits,
    /// Used when `kind = "http"`.
    pub http: HttpProviderConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderLimits {
    /// Sends per second (token bucket, per worker process); none means unlimited. May be
    /// fractional (0.5 = one every two seconds).
    pub rate_per_sec: Option<f64>,
    /// Sends allowed at once after a quiet period.
    pub burst: u32,
    /// Provider calls in flight at once (bulkhead), per worker process.
    pub max_concurrency: usize,
    /// Lower the calls in flight (AIMD, down to `min_concurrency`) while the provider fails
    /// more than 10% of its calls retryably, and raise them again while it answers well.
    pub adaptive_concurrency: bool,
    /// Floor of the adaptive limit; default a quarter of `max_concurrency` (at least 1).
    pub min_concurrency: Option<usize>,
    pub breaker: BreakerSettings,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        Self {
            rate_per_sec: None,
            burst: 1,
            max_concurrency: 1024,
            adaptive_concurrency: true,
            min_concurrency: None,
            breaker: BreakerSettings::default(),
        }
    }
}

impl ProviderLimits {
    /// The floor of the adaptive concurrency limit.
    pub fn min_concurrency(&self) -> usize {
        self.min_concurrency.unwrap_or(self.max_concurrency / 4).clamp(1, self.max_concurrency.max(1))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerSettings {
    pub enabled: bool,
    /// Opens when this share of the last `window` calls failed (retryably)...
    pub failure_rate: f64,
    pub window: usize,
    /// ...and at least this many calls were seen.
    pub min_calls: usize,
    /// Stays open this long; messages wait meanwhile (they do not fail).
    pub open_secs: u64,
    /// Trial calls when half-open; all must succeed to close.
    pub half_open_calls: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        let d = herald_domain::breaker::BreakerConfig::default();
        Self {
            enabled: true,
            failure_rate: d.failure_rate,
            window: d.window,
            min_calls: d.min_calls,
            open_secs: d.open_for_ms / 1000,
            half_open_calls: d.half_open_calls,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// herald's in-process mock (`[mock_provider]`).
    #[default]
    Mock,
    /// A JSON-over-HTTP provider (`[provider.http]`).
    Http,
    /// An SMTP relay for email (`[providers.smtp]`; `[[providers]]` entries only).
    Smtp,
    /// Firebase Cloud Messaging for push (`[providers.fcm]`; `[[providers]]` entries only).
    Fcm,
    /// Twilio's Programmable Messaging API (`[providers.twilio]`).
    Twilio,
    /// Africa's Talking's SMS API (`[providers.africastalking]`).
    Africastalking,
    /// Vonage's SMS API (`[providers.vonage]`).
    Vonage,
    /// Infobip's SMS API (`[providers.infobip]`).
    Infobip,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mock => "mock",
            Self::Http => "http",
            Self::Smtp => "smtp",
            Self::Fcm => "fcm",
            Self::Twilio => "twilio",
            Self::Africastalking => "africastalking",
            Self::Vonage => "vonage",
            Self::Infobip => "infobip",
        }
    }

    /// The SMS API presets, whose delivery receipts herald takes.
    pub fn is_sms_api(self) -> bool {
        matches!(self, Self::Twilio | Self::Africastalking | Self::Vonage | Self::Infobip)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpProviderConfig {
    /// Name in metrics, logs and `provider` fields.
    pub name: String,
    /// Where each message is POSTed.
    pub url: String,
    /// Optional authentication header, e.g. `Authorization`.
    pub auth_header: Option<String>,
    /// Its value, e.g. `Bearer ...` (a secret: never logged).
    pub auth_value: Option<Secret>,
    /// JSON field names of the request body.
    pub to_field: String,
    pub from_field: String,
    pub body_field: String,
    /// Field carrying herald's message id, for the provider to deduplicate; empty to omit.
    pub reference_field: String,
    /// JSON pointer to the provider's message id in a 2xx answer, e.g. `/id`.
    pub message_id_pointer: Option<String>,
}

impl Default for HttpProviderConfig {
    fn default() -> Self {
        Self {
            name: "http".into(),
            url: String::new(),
            auth_header: None,
            auth_value: None,
            to_field: "to".into(),
            from_field: "from".into(),
            body_field: "body".into(),
            reference_field: "reference".into(),
            message_id_pointer: Some("/id".into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MockProviderConfig {
    /// Share of sends that succeed, from 0.0 to 1.0; the rest fail with a retryable error.
    pub success_rate: f64,
    /// Simulated provider latency per send.
    pub latency_ms: u64,
}

impl Default for MockProviderConfig {
    fn default() -> Self {
        Self { success_rate: 0.95, latency_ms: 0 }
    }
}

impl ProviderConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.kind == ProviderKind::Http {
            validate_http(&self.http, Section::Provider)?;
        }
        if self.kind == ProviderKind::Smtp {
            return invalid(
                "provider.kind",
                "\"smtp\" is configured as a [[providers]] entry: name, kind = \"smtp\", channels = [\"email\"], [providers.smtp]",
            );
        }
        if self.kind == ProviderKind::Fcm {
            return invalid(
                "provider.kind",
                "\"fcm\" is configured as a [[providers]] entry: name, kind = \"fcm\", channels = [\"push\"], [providers.fcm]",
            );
        }
        if self.kind.is_sms_api() {
            let kind = self.kind.as_str();
            return Err(ConfigError::Invalid {
                key: "provider.kind",
                reason: format!("\"{kind}\" is configured as a [[providers]] entry: name, kind = \"{kind}\", [providers.{kind}]"),
            });
        }
        self.limits.validate_in(Section::Provider)
    }
}

impl ProviderLimits {
    fn validate_in(&self, section: Section) -> Result<(), ConfigError> {
        let key = |legacy, entry| section.key(legacy, entry);
        if self.max_concurrency == 0 {
            return invalid(
                key("provider.limits.max_concurrency", "providers.limits.max_concurrency"),
                "must be at least 1",
            );
        }
        if self.min_concurrency.is_some_and(|min| min == 0 || min > self.max_concurrency) {
            return invalid("provider.limits.min_concurrency", "must be between 1 and max_concurrency");
        }
        if self.rate_per_sec.is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)) {
            return invalid(
                key("provider.limits.rate_per_sec", "providers.limits.rate_per_sec"),
                "must be a number above 0 (at most 1000000)",
            );
        }
        let breaker = &self.breaker;
        if !(breaker.failure_rate > 0.0 && breaker.failure_rate <= 1.0) {
            return invalid(
                key("provider.limits.breaker.failure_rate", "providers.limits.breaker.failure_rate"),
                "must be in (0, 1]",
            );
        }
        if breaker.window == 0 || breaker.min_calls == 0 || breaker.min_calls > breaker.window {
            return invalid(
                key("provider.limits.breaker.min_calls", "providers.limits.breaker.min_calls"),
                "must be between 1 and breaker.window",
            );
        }
        if breaker.half_open_calls == 0 || breaker.open_secs == 0 {
            return invalid(
                key("provider.limits.breaker.open_secs", "providers.limits.breaker.open_secs"),
                "and half_open_calls must be at least 1",
            );
        }
        Ok(())
    }
}

impl MockProviderConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.success_rate) {
            return invalid("mock_provider.success_rate", "must be between 0.0 and 1.0");
        }
        Ok(())
    }
}
