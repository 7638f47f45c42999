//! Configuration: built-in defaults, then an optional `herald.toml`, then `HERALD_*`
//! environment variables (and plain `DATABASE_URL`). Everything is validated at start-up;
//! an invalid value stops herald with a message naming the key.

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server binds (`HERALD_LISTEN`).
    pub listen: SocketAddr,
    /// `sqlite://path` or `postgres://...` (`HERALD_DATABASE_URL`, or `DATABASE_URL`).
    pub database_url: String,
    /// SQLite only: the most the database file may grow to, in MiB
    /// (`HERALD_SQLITE_MAX_SIZE_MB`). Past it herald answers 503 to new messages, as on a
    /// full disk, and keeps room on the machine for everything else. Unset: no limit.
    pub sqlite_max_size_mb: Option<u64>,
    /// `pretty` (human, for a terminal) or `json` (`HERALD_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// A key herald makes sure exists at start-up (`HERALD_BOOTSTRAP_API_KEY`).
    pub bootstrap_api_key: Option<Secret>,
    /// RabbitMQ (`HERALD_AMQP_URL`, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`); unset
    /// means herald runs without a broker.
    pub amqp_url: Option<Secret>,
    /// How workers get their work: `database` (claims on the messages table) or `amqp`
    /// (message ids through a RabbitMQ queue; needs `amqp_url`).
    pub job_transport: JobTransport,
    pub amqp: AmqpConfig,
    pub http: HttpConfig,
    pub sms: SmsConfig,
    pub dispatch: DispatchConfig,
    /// Per-channel limits: retries and a concurrency budget (bulkhead) for each channel.
    pub channels: ChannelsConfig,
    pub idempotency: IdempotencyConfig,
    pub provider: ProviderConfig,
    pub mock_provider: MockProviderConfig,
}

/// Which provider sends SMS.
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
    pub breaker: BreakerSettings,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        Self { rate_per_sec: None, burst: 1, max_concurrency: 1024, breaker: BreakerSettings::default() }
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
pub struct IdempotencyConfig {
    /// How long a key and its response are kept (at least 24 hours is the promise).
    pub retention_hours: u64,
    /// Keys are stored only inside their request's transaction; a key left `in_flight` by
    /// an earlier herald (which stored claims on their own) is taken over after this long.
    pub in_flight_timeout_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { retention_hours: 24, in_flight_timeout_secs: 60 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes; larger bodies get a 413.
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsConfig {
    /// Sender used when a request names none (`/api/v1/notifications/send`).
    pub default_sender: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DispatchConfig {
    /// Messages claimed per batch.
    pub batch_size: u32,
    /// Provider calls in flight at once, per batch.
    pub concurrency: usize,
    /// Batches in flight at once per worker process (claim, send and commit overlap).
    pub pipelines: usize,
    /// How long a claim is valid; a worker that dies loses its claims after this.
    pub lease_secs: u64,
    /// Fallback poll when no wake-up signal arrived (e.g. for retries coming due).
    pub poll_interval_ms: u64,
    /// Retries after the first attempt before a message is `failed`.
    pub max_retries: u32,
    /// First retry waits up to this long (full jitter); it doubles per retry.
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    pub retry_cap_ms: u64,
    /// A provider call that takes longer is abandoned and retried.
    pub provider_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long sends already in flight may take to finish; what is
    /// left then is released back to `pending` for another worker.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobTransport {
    #[default]
    Database,
    Amqp,
}

/// RabbitMQ names and limits. Every queue herald declares is a durable quorum queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AmqpConfig {
    /// `SendSms` commands are consumed from this queue.
    pub command_queue: String,
    /// Invalid commands go here, with the reason in the `x-herald-rejection` header.
    pub command_dead_letter_queue: String,
    /// Deliveries not acknowledged (consumer prefetch), per consumer.
    pub prefetch: u16,
    /// Events are published to this durable topic exchange, routing key = event type.
    pub events_exchange: String,
    /// Events no queue is bound for are kept here (the exchange's alternate exchange and
    /// its queue share this name) instead of being dropped.
    pub unrouted_events_queue: String,
    /// Outbox rows published per relay round.
    pub relay_batch_size: u32,
    /// How often the relay looks for new outbox rows when nothing woke it.
    pub relay_poll_interval_ms: u64,
    /// With `job_transport = "amqp"`: due message ids go through this queue.
    pub jobs_queue: String,
    /// Deliveries of one job before RabbitMQ dead-letters it (quorum `x-delivery-limit`).
    pub jobs_delivery_limit: u32,
    /// Dead letters of the jobs queue.
    pub jobs_dead_letter_queue: String,
    /// Direct exchange that routes dead letters to the queues above (by queue name).
    pub dead_letter_exchange: String,
    /// Longest wait between two reconnection attempts.
    pub reconnect_max_ms: u64,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            command_queue: "herald.send_sms".into(),
            command_dead_letter_queue: "herald.send_sms.dead".into(),
            prefetch: 200,
            events_exchange: "herald.events".into(),
            unrouted_events_queue: "herald.events.unrouted".into(),
            relay_batch_size: 500,
            relay_poll_interval_ms: 200,
            jobs_queue: "campaign_sends".into(),
            jobs_delivery_limit: 5,
            jobs_dead_letter_queue: "campaign_sends.dead".into(),
            dead_letter_exchange: "herald.dead_letters".into(),
            reconnect_max_ms: 10_000,
        }
    }
}

/// Limits of one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelLimits {
    /// Retries after the first attempt for this channel's messages; unset means
    /// `dispatch.max_retries`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Sends of this channel in flight at once, per worker process (bulkhead): a slow
    /// channel cannot take every slot of the others.
    pub max_concurrency: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self { max_retries: None, max_concurrency: 1024 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelsConfig {
    pub sms: ChannelLimits,
    pub whatsapp: ChannelLimits,
    pub email: ChannelLimits,
    pub push: ChannelLimits,
}

impl ChannelsConfig {
    pub fn get(&self, channel: herald_domain::Channel) -> &ChannelLimits {
        use herald_domain::Channel;
        match channel {
            Channel::Sms => &self.sms,
            Channel::Whatsapp => &self.whatsapp,
            Channel::Email => &self.email,
            Channel::Push => &self.push,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &ChannelLimits)> {
        [("sms", &self.sms), ("whatsapp", &self.whatsapp), ("email", &self.email), ("push", &self.push)]
            .into_iter()
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

/// A secret that never prints: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://herald.db".into(),
            sqlite_max_size_mb: None,
            log_format: LogFormat::Pretty,
            bootstrap_api_key: None,
            amqp_url: None,
            job_transport: JobTransport::Database,
            amqp: AmqpConfig::default(),
            http: HttpConfig::default(),
            sms: SmsConfig::default(),
            dispatch: DispatchConfig::default(),
            channels: ChannelsConfig::default(),
            idempotency: IdempotencyConfig::default(),
            provider: ProviderConfig::default(),
            mock_provider: MockProviderConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { body_limit_bytes: 1024 * 1024 }
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self { default_sender: "herald".into() }
    }
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            concurrency: 256,
            pipelines: 4,
            lease_secs: 60,
            poll_interval_ms: 500,
            max_retries: 3,
            retry_base_ms: 1_000,
            retry_cap_ms: 300_000,
            provider_timeout_ms: 10_000,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for MockProviderConfig {
    fn default() -> Self {
        Self { success_rate: 0.95, latency_ms: 0 }
    }
}

impl DispatchConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    /// The retry policy of one channel: its own `max_retries` if set, else the default.
    pub fn retry_policy(&self, channel: &ChannelLimits) -> herald_domain::RetryPolicy {
        herald_domain::RetryPolicy {
            max_retries: channel.max_retries.unwrap_or(self.max_retries),
            base: Duration::from_millis(self.retry_base_ms),
            cap: Duration::from_millis(self.retry_cap_ms),
        }
    }
}

/// Environment variables whose values are text even when they look like numbers.
const TEXT_ENV_KEYS: [(&str, &str); 5] = [
    ("HERALD_AMQP_URL", "amqp_url"),
    ("HERALD_PROVIDER__HTTP__AUTH_VALUE", "provider.http.auth_value"),
    ("HERALD_BOOTSTRAP_API_KEY", "bootstrap_api_key"),
    ("HERALD_SMS__DEFAULT_SENDER", "sms.default_sender"),
    ("HERALD_DATABASE_URL", "database_url"),
];

/// Bootstrap keys shorter than this get a start-up warning (keys herald creates are 48).
pub const SHORT_KEY_CHARS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Loads defaults <- `file` (if it exists; `herald.toml` when none is given) <- env.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let path = file.unwrap_or(Path::new("herald.toml"));
        if file.is_some() && !path.exists() {
            return Err(ConfigError::Invalid {
                key: "--config",
                reason: format!("names {}, which does not exist", path.display()),
            });
        }
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("HERALD_").split("__"));
        // figment guesses types of environment values ("0012345678" becomes the number
        // 12345678); keys that are text are taken verbatim instead.
        for (variable, key) in TEXT_ENV_KEYS {
            if let Ok(value) = std::env::var(variable) {
                figment = figment.merge((key, value));
            }
        }
        Self::from_figment(&figment)
    }

    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// True when the bootstrap key is shorter than [`SHORT_KEY_CHARS`]: accepted, but
    /// start-up warns, because a short chosen key can be guessed.
    pub fn bootstrap_api_key_is_short(&self) -> bool {
        self.bootstrap_api_key.as_ref().is_some_and(|key| key.expose().chars().count() < SHORT_KEY_CHARS)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.into() });
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid("database_url", "must start with sqlite:, postgres:// or postgresql://");
        }
        if self.sqlite_max_size_mb == Some(0) {
            return invalid("sqlite_max_size_mb", "must be at least 1 (or unset for no limit)");
        }
        if !(0.0..=1.0).contains(&self.mock_provider.success_rate) {
            return invalid("mock_provider.success_rate", "must be between 0.0 and 1.0");
        }
        if self.dispatch.batch_size == 0 || self.dispatch.batch_size > 10_000 {
            return invalid("dispatch.batch_size", "must be between 1 and 10000");
        }
        if self.dispatch.concurrency == 0 {
            return invalid("dispatch.concurrency", "must be at least 1");
        }
        if self.dispatch.lease_secs == 0 {
            return invalid("dispatch.lease_secs", "must be at least 1");
        }
        if self.dispatch.provider_timeout_ms == 0
            || self.dispatch.provider_timeout_ms >= self.dispatch.lease_secs * 1000
        {
            return invalid(
                "dispatch.provider_timeout_ms",
                "must be at least 1 and shorter than dispatch.lease_secs",
            );
        }
        // Sends of a batch run in waves of `concurrency`; the last wave must still start and
        // finish inside the lease, or another worker could claim and send the same messages.
        if self.dispatch.pipelines == 0 || self.dispatch.pipelines > 64 {
            return invalid("dispatch.pipelines", "must be between 1 and 64");
        }
        if self.provider.limits.max_concurrency == 0 {
            return invalid("provider.limits.max_concurrency", "must be at least 1");
        }
        for (name, channel) in self.channels.iter() {
            if channel.max_concurrency == 0 {
                return Err(ConfigError::Invalid {
                    key: "channels.<channel>.max_concurrency",
                    reason: format!("must be at least 1 (channels.{name})"),
                });
            }
        }
        // All pipelines' batches share the provider's concurrency budget, and a batch of one
        // channel gets no more than that channel's budget.
        let narrowest_channel = self.channels.iter().map(|(_, c)| c.max_concurrency).min().unwrap_or(1);
        let in_flight = (self.dispatch.concurrency * self.dispatch.pipelines)
            .min(self.provider.limits.max_concurrency)
            .min(narrowest_channel) as u64;
        let claimed = u64::from(self.dispatch.batch_size) * self.dispatch.pipelines as u64;
        let waves = claimed.div_ceil(in_flight);
        if waves * self.dispatch.provider_timeout_ms * 2 > self.dispatch.lease_secs * 1000 {
            return invalid(
                "dispatch.lease_secs",
                "must be at least twice the time a batch can take: ceil(batch_size * pipelines / \
                 min(concurrency * pipelines, provider.limits.max_concurrency, \
                 channels.<channel>.max_concurrency)) * provider_timeout_ms",
            );
        }
        if self.dispatch.poll_interval_ms == 0 {
            return invalid("dispatch.poll_interval_ms", "must be at least 1");
        }
        if self.dispatch.retry_base_ms > self.dispatch.retry_cap_ms {
            return invalid("dispatch.retry_base_ms", "must not exceed dispatch.retry_cap_ms");
        }
        if self.idempotency.retention_hours == 0 || self.idempotency.retention_hours > 24 * 365 {
            return invalid("idempotency.retention_hours", "must be between 1 and 8760");
        }
        if self.idempotency.in_flight_timeout_secs == 0 || self.idempotency.in_flight_timeout_secs > 86_400 {
            return invalid("idempotency.in_flight_timeout_secs", "must be between 1 and 86400");
        }
        if let Some(url) = &self.amqp_url {
            if !(url.expose().starts_with("amqp://") || url.expose().starts_with("amqps://")) {
                return invalid("amqp_url", "must start with amqp:// or amqps://");
            }
        }
        if self.job_transport == JobTransport::Amqp && self.amqp_url.is_none() {
            return invalid("job_transport", "\"amqp\" needs amqp_url (HERALD_AMQP_URL)");
        }
        if self.amqp.prefetch == 0 {
            return invalid("amqp.prefetch", "must be at least 1");
        }
        if self.amqp.relay_batch_size == 0 || self.amqp.relay_batch_size > 10_000 {
            return invalid("amqp.relay_batch_size", "must be between 1 and 10000");
        }
        if self.amqp.relay_poll_interval_ms == 0 || self.amqp.reconnect_max_ms == 0 {
            return invalid("amqp.relay_poll_interval_ms", "and amqp.reconnect_max_ms must be at least 1");
        }
        if self.amqp.jobs_delivery_limit == 0 {
            return invalid("amqp.jobs_delivery_limit", "must be at least 1");
        }
        if self.provider.kind == ProviderKind::Http {
            let url = &self.provider.http.url;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid(
                    "provider.http.url",
                    "must be an http:// or https:// URL when provider.kind = \"http\"",
                );
            }
            if self.provider.http.auth_header.is_some() != self.provider.http.auth_value.is_some() {
                return invalid(
                    "provider.http.auth_header",
                    "and provider.http.auth_value must be set together",
                );
            }
        }
        let limits = &self.provider.limits;
        if limits.rate_per_sec.is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)) {
            return invalid("provider.limits.rate_per_sec", "must be a number above 0 (at most 1000000)");
        }
        let breaker = &limits.breaker;
        if !(breaker.failure_rate > 0.0 && breaker.failure_rate <= 1.0) {
            return invalid("provider.limits.breaker.failure_rate", "must be in (0, 1]");
        }
        if breaker.window == 0 || breaker.min_calls == 0 || breaker.min_calls > breaker.window {
            return invalid("provider.limits.breaker.min_calls", "must be between 1 and breaker.window");
        }
        if breaker.half_open_calls == 0 || breaker.open_secs == 0 {
            return invalid("provider.limits.breaker.open_secs", "and half_open_calls must be at least 1");
        }
        if self.http.body_limit_bytes < 1024 {
            return invalid("http.body_limit_bytes", "must be at least 1024");
        }
        if herald_domain::SenderId::parse(&self.sms.default_sender).is_err() {
            return invalid(
                "sms.default_sender",
                "must be a phone number or an alphanumeric name of at most 11 characters",
            );
        }
        // A short key is allowed (the sms-processor README's own key is `BigBird`); start-up
        // warns about it instead. An empty one is a mistake, never a key.
        if self.bootstrap_api_key.as_ref().is_some_and(|key| key.expose().is_empty()) {
            return invalid("bootstrap_api_key", "must not be empty");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its large error type
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn env_overrides_file_and_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("herald.toml", "listen = \"0.0.0.0:9000\"\n[dispatch]\nbatch_size = 7\n")?;
            jail.set_env("HERALD_DISPATCH__BATCH_SIZE", "9");
            jail.set_env("DATABASE_URL", "postgres://db/herald");
            let config = Config::load(None).unwrap();
            assert_eq!(config.listen.port(), 9000);
            assert_eq!(config.dispatch.batch_size, 9);
            assert_eq!(config.database_url, "postgres://db/herald");
            Ok(())
        });
    }

    #[test]
    fn herald_database_url_wins_over_database_url() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://a/a");
            jail.set_env("HERALD_DATABASE_URL", "sqlite://b.db");
            assert_eq!(Config::load(None).unwrap().database_url, "sqlite://b.db");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_key() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_MOCK_PROVIDER__SUCCESS_RATE", "1.5");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("mock_provider.success_rate"), "{err}");
            jail.set_env("HERALD_MOCK_PROVIDER__SUCCESS_RATE", "0.5");
            jail.set_env("HERALD_LISTEN", "not-an-address");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.to_lowercase().contains("listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn numeric_looking_text_values_are_kept_verbatim() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_BOOTSTRAP_API_KEY", "0012345678");
            jail.set_env("HERALD_SMS__DEFAULT_SENDER", "3535");
            let config = Config::load(None).unwrap();
            assert_eq!(config.bootstrap_api_key.unwrap().expose(), "0012345678");
            assert_eq!(config.sms.default_sender, "3535");
            Ok(())
        });
    }

    #[test]
    fn a_short_bootstrap_key_is_accepted_and_flagged_but_an_empty_one_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_BOOTSTRAP_API_KEY", "BigBird");
            let config = Config::load(None).unwrap();
            assert_eq!(config.bootstrap_api_key.as_ref().unwrap().expose(), "BigBird");
            assert!(config.bootstrap_api_key_is_short());
            jail.set_env("HERALD_BOOTSTRAP_API_KEY", "a-long-operator-chosen-key");
            assert!(!Config::load(None).unwrap().bootstrap_api_key_is_short());
            jail.set_env("HERALD_BOOTSTRAP_API_KEY", "");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("bootstrap_api_key") && err.contains("must not be empty"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_batch_must_fit_in_its_lease() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_DISPATCH__BATCH_SIZE", "500");
            jail.set_env("HERALD_DISPATCH__CONCURRENCY", "10");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("dispatch.lease_secs"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }
}
