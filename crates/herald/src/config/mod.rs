//! Configuration: built-in defaults, then an optional `herald.toml`, then `HERALD_*`
//! environment variables (and plain `DATABASE_URL`). Everything is validated at start-up;
//! an invalid value stops herald with a message naming the key.

mod amqp;
mod api;
mod channels;
mod dashboard;
mod dispatch;
mod email;
mod fcm;
mod http;
mod idempotency;
mod provider;
mod routes;
mod secret;
mod sms_apis;
mod smtp;
mod templates;

use std::{net::SocketAddr, path::Path};

pub use amqp::AmqpConfig;
pub use api::{ApiConfig, ApiRateLimitConfig};
pub use channels::{ChannelLimits, ChannelsConfig};
pub use dashboard::DashboardConfig;
pub use dispatch::DispatchConfig;
pub use email::{is_mailbox, EmailConfig};
pub use fcm::{FcmProviderConfig, FCM_ENDPOINT};
pub use http::{HttpConfig, SmsConfig};
pub use idempotency::IdempotencyConfig;
pub use provider::{
    BreakerSettings, HttpProviderConfig, MockProviderConfig, ProviderConfig, ProviderEntry, ProviderKind,
    ProviderLimits,
};
pub use routes::{FailoverOnPermanent, RouteConfig, Routing};
pub use secret::Secret;
pub use sms_apis::{
    AfricasTalkingConfig, InfobipConfig, TwilioConfig, VonageConfig, VonageSignatureMethod,
    AFRICASTALKING_BASE_URL, TWILIO_BASE_URL, VONAGE_BASE_URL,
};
pub use smtp::{SmtpProviderConfig, SmtpTls};
pub use templates::TemplatesConfig;

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
    /// The API's own limits: every key's default request rate.
    pub api: ApiConfig,
    pub http: HttpConfig,
    pub sms: SmsConfig,
    /// Defaults of the email channel: From and Reply-To.
    pub email: EmailConfig,
    pub dispatch: DispatchConfig,
    /// Per-channel limits: retries and a concurrency budget (bulkhead) for each channel.
    pub channels: ChannelsConfig,
    pub idempotency: IdempotencyConfig,
    /// The template cache.
    pub templates: TemplatesConfig,
    /// The web dashboard at `/` and its sessions.
    pub dashboard: DashboardConfig,
    /// The single-provider form; ignored when `providers` is set.
    pub provider: ProviderConfig,
    pub mock_provider: MockProviderConfig,
    /// Named providers (`[[providers]]`); empty means `[provider]` is the one provider.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderEntry>,
    /// Which providers each channel (and E.164 prefix) goes to (`[[routes]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// herald's address as providers reach it (`HERALD_PUBLIC_URL`, e.g.
    /// `https://herald.example.com`): delivery receipts are asked for at
    /// `<public_url>/webhooks/providers/<name>/status`, and Twilio's signatures are checked
    /// against that URL. Unset: herald asks for no receipts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobTransport {
    #[default]
    Database,
    Amqp,
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
            api: ApiConfig::default(),
            http: HttpConfig::default(),
            sms: SmsConfig::default(),
            email: EmailConfig::default(),
            dispatch: DispatchConfig::default(),
            channels: ChannelsConfig::default(),
            idempotency: IdempotencyConfig::default(),
            templates: TemplatesConfig::default(),
            dashboard: DashboardConfig::default(),
            provider: ProviderConfig::default(),
            mock_provider: MockProviderConfig::default(),
            providers: Vec::new(),
            routes: Vec::new(),
            public_url: None,
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

    /// Where the provider named `name` is asked to send its delivery receipts, when
    /// `public_url` is set.
    pub fn receipt_url(&self, name: &str) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/webhooks/providers/{name}/status"))
    }

    /// The providers and routes to dispatch with: `[[providers]]` and `[[routes]]`, or the
    /// single `[provider]` as one provider on a default route per channel it serves.
    pub fn routing(&self) -> Routing {
        if self.providers.is_empty() {
            Routing::single(ProviderEntry::from_legacy(&self.provider, &self.mock_provider))
        } else {
            Routing::new(self.providers.clone(), self.routes.clone())
        }
    }

    /// Each section checks its own keys; what spans sections is checked here.
    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid("database_url", "must start with sqlite:, postgres:// or postgresql://");
        }
        if self.sqlite_max_size_mb == Some(0) {
            return invalid("sqlite_max_size_mb", "must be at least 1 (or unset for no limit)");
        }
        self.dispatch.validate()?;
        self.channels.validate()?;
        if self.providers.is_empty() {
            if !self.routes.is_empty() {
                return invalid(
                    "routes",
                    "need [[providers]] entries to name (the single [provider] has none)",
                );
            }
            self.provider.validate()?;
            self.mock_provider.validate()?;
        }
        self.routing().validate()?;
        self.idempotency.validate()?;
        self.templates.validate()?;
        self.dashboard.validate()?;
        self.amqp.validate()?;
        self.api.validate()?;
        self.http.validate()?;
        self.sms.validate()?;
        self.email.validate()?;
        self.validate_lease_fits_a_batch()?;
        if let Some(url) = &self.amqp_url {
            if !(url.expose().starts_with("amqp://") || url.expose().starts_with("amqps://")) {
                return invalid("amqp_url", "must start with amqp:// or amqps://");
            }
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.query().is_none()) {
                return invalid("public_url", "must be an http:// or https:// URL without a query");
            }
        }
        if self.job_transport == JobTransport::Amqp && self.amqp_url.is_none() {
            return invalid("job_transport", "\"amqp\" needs amqp_url (HERALD_AMQP_URL)");
        }
        // A short key is allowed (the sms-processor README's own key is `BigBird`); start-up
        // warns about it instead. An empty one is a mistake, never a key.
        if self.bootstrap_api_key.as_ref().is_some_and(|key| key.expose().is_empty()) {
            return invalid("bootstrap_api_key", "must not be empty");
        }
        Ok(())
    }

    /// Sends of a batch run in waves of what may be in flight; the last wave must still
    /// start and finish inside the lease, or another worker could claim and send the same
    /// messages. All pipelines' batches share the provider's concurrency budget, and a batch
    /// of one channel gets no more than that channel's budget.
    /// With several providers, the narrowest provider budget and the longest attempt count
    /// (an attempt that fails over may wait on each provider of its route in turn).
    fn validate_lease_fits_a_batch(&self) -> Result<(), ConfigError> {
        let dispatch = &self.dispatch;
        let routing = self.routing();
        let narrowest_channel = self.channels.narrowest_concurrency();
        let in_flight = (dispatch.concurrency * dispatch.pipelines)
            .min(routing.narrowest_concurrency())
            .min(narrowest_channel) as u64;
        let claimed = u64::from(dispatch.batch_size) * dispatch.pipelines as u64;
        let waves = claimed.div_ceil(in_flight);
        if waves * routing.longest_attempt_ms(dispatch) * 2 > dispatch.lease_secs * 1000 {
            return invalid(
                "dispatch.lease_secs",
                "must be at least twice the time a batch can take: ceil(batch_size * pipelines / \
                 min(concurrency * pipelines, <provider>.limits.max_concurrency, \
                 channels.<channel>.max_concurrency)) * the longest attempt (provider_timeout_ms, \
                 or a route's providers' timeouts added up when it fails over on permanent errors)",
            );
        }
        Ok(())
    }
}

/// The error for an invalid `key`.
pub(crate) fn invalid(key: &'static str, reason: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { key, reason: reason.into() })
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

    /// The start-up error for `toml`, as herald prints it.
    fn load_error(toml: &str) -> String {
        let mut message = String::new();
        Jail::expect_with(|jail| {
            jail.create_file("herald.toml", toml)?;
            message = Config::load(None).expect_err("refused").to_string();
            Ok(())
        });
        message
    }

    #[test]
    fn each_sms_api_preset_names_the_credential_it_misses() {
        let cases = [
            ("twilio", "", "providers.twilio.account_sid"),
            ("twilio", "account_sid = \"AC1\"", "providers.twilio.auth_token"),
            ("africastalking", "api_key = \"k\"", "providers.africastalking.username"),
            ("africastalking", "username = \"sandbox\"", "providers.africastalking.api_key"),
            ("vonage", "api_secret = \"s\"", "providers.vonage.api_key"),
            ("vonage", "api_key = \"k\"", "providers.vonage.api_secret"),
            ("infobip", "base_url = \"https://x.api.infobip.com\"", "providers.infobip.api_key"),
            ("infobip", "api_key = \"k\"", "providers.infobip.base_url"),
            (
                "twilio",
                "account_sid = \"AC1\"\nauth_token = \"t\"\nbase_url = \"ftp://x\"",
                "providers.twilio.base_url",
            ),
        ];
        for (kind, settings, key) in cases {
            let error = load_error(&format!(
                "[[providers]]\nname = \"p\"\nkind = \"{kind}\"\n[providers.{kind}]\n{settings}\n"
            ));
            assert!(
                error.contains(&format!("`{key}`")) && error.contains("provider \"p\""),
                "{kind} {settings}: {error}"
            );
        }
        let complete = "[[providers]]\nname = \"p\"\nkind = \"twilio\"\n[providers.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n";
        Jail::expect_with(|jail| {
            jail.create_file("herald.toml", complete)?;
            let config = Config::load(None).expect("a complete preset loads");
            assert_eq!(config.providers[0].channels, [herald_domain::Channel::Sms]);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_provider_kind_a_preset_outside_providers_and_a_bad_public_url_stop_start_up() {
        let unknown = load_error("[[providers]]\nname = \"p\"\nkind = \"twillio\"\n");
        assert!(unknown.contains("twillio") && unknown.contains("kind"), "{unknown}");
        let legacy = load_error("[provider]\nkind = \"vonage\"\n");
        assert!(legacy.contains("`provider.kind`") && legacy.contains("[[providers]]"), "{legacy}");
        let name = load_error("[[providers]]\nname = \"my twilio\"\nkind = \"twilio\"\n[providers.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n");
        assert!(name.contains("`providers.name`"), "{name}");
        let url = load_error("public_url = \"herald.example.com\"\n");
        assert!(url.contains("`public_url`"), "{url}");
    }

    #[test]
    fn receipts_are_asked_for_under_public_url() {
        let config = Config { public_url: Some("https://herald.example.com/".into()), ..Config::default() };
        assert_eq!(
            config.receipt_url("twilio").as_deref(),
            Some("https://herald.example.com/webhooks/providers/twilio/status")
        );
        assert_eq!(Config::default().receipt_url("twilio"), None);
    }

    #[test]
    fn an_smtp_provider_needs_a_relay_and_a_sender_and_serves_email_only() {
        Jail::expect_with(|jail| {
            let entry = |extra: &str| {
                format!(
                    "[[providers]]\nname = \"relay\"\nkind = \"smtp\"\nchannels = [\"email\"]\n\
                     [providers.smtp]\n{extra}\n"
                )
            };
            jail.create_file("herald.toml", &entry("from = \"noreply@example.com\""))?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("providers.smtp.host"), "{err}");
            jail.create_file(
                "herald.toml",
                &entry("host = \"smtp.example.com\"\nfrom = \"not an address\""),
            )?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("providers.smtp.from"), "{err}");
            jail.create_file(
                "herald.toml",
                &entry(
                    "host = \"smtp.example.com\"\nfrom = \"Herald <noreply@example.com>\"\nusername = \"u\"",
                ),
            )?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("providers.smtp.password"), "{err}");
            let valid = entry("host = \"smtp.example.com\"\nfrom = \"Herald <noreply@example.com>\"");
            jail.create_file("herald.toml", &valid)?;
            let config = Config::load(None).unwrap();
            assert_eq!(config.providers[0].smtp.port(), 587, "STARTTLS by default");
            jail.create_file("herald.toml", &valid.replace("[\"email\"]", "[\"sms\"]"))?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("providers.channels"), "{err}");
            jail.create_file("herald.toml", "[provider]\nkind = \"smtp\"\n")?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("provider.kind") && err.contains("[[providers]]"), "{err}");
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

    #[test]
    fn the_docker_compose_environment_loads_with_email_going_to_the_smtp_sink() {
        Jail::expect_with(|jail| {
            for (variable, value) in compose_environment() {
                jail.set_env(variable, value);
            }
            let config = Config::load(None).map_err(|e| format!("docker-compose.yml: {e}"))?;
            assert!(config.database_url.starts_with("postgres://"));
            assert!(config.amqp_url.is_some());
            assert_eq!(config.log_format, LogFormat::Json);
            let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["mock", "mailpit"]);
            let routing = config.routing();
            let email = routing.route_for(herald_domain::Channel::Email, "").expect("an email route");
            assert_eq!(email.providers, ["mailpit"]);
            let sink = &config.providers[1].smtp;
            assert_eq!((sink.host.as_str(), sink.port(), sink.tls), ("mailpit", 1025, SmtpTls::None));
            Ok(())
        });
    }

    /// The `x-herald-environment` block of docker-compose.yml, as the herald services get it:
    /// `KEY: value` lines, and `KEY: >-` followed by more indented lines that YAML folds
    /// into one value, joined with spaces.
    fn compose_environment() -> Vec<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docker-compose.yml");
        let text = std::fs::read_to_string(path).unwrap();
        let (_, block) = text
            .split_once("x-herald-environment: &herald-environment\n")
            .expect("docker-compose.yml has the x-herald-environment block");
        let mut variables: Vec<(String, String)> = Vec::new();
        for line in block.lines().take_while(|line| line.is_empty() || line.starts_with(' ')) {
            let content = line.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            if line.starts_with("    ") {
                let (_, value) = variables.last_mut().expect("a folded line follows its key");
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(content);
            } else {
                let (key, value) = content.split_once(": ").expect("a `KEY: value` line");
                let value = if value == ">-" { String::new() } else { value.to_owned() };
                variables.push((key.to_owned(), value));
            }
        }
        variables
    }
}
