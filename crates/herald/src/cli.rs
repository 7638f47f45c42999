//! The command line: `herald serve | api | worker | migrate | api-key | import-monolith ...`.

use std::{path::PathBuf, str::FromStr};

use chrono::Utc;
use clap::{Parser, Subcommand};
use herald_domain::ApiKeyId;
use tokio_util::sync::CancellationToken;

use crate::{
    app::{self, Application, KeyNotice, Roles},
    config::Config,
    model::{RequestRate, RequestRateError},
    services::api_keys,
    telemetry,
};

#[derive(Debug, Parser)]
#[command(name = "herald", version, about = "Reliable SMS and notification dispatch")]
pub struct Cli {
    /// Configuration file (default: ./herald.toml when it exists).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything in one process: HTTP API and dispatcher.
    Serve,
    /// Run only the HTTP API (dispatch happens in `herald worker` processes).
    Api,
    /// Run only the dispatcher.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Add sample customers and campaigns (once; a seeded database is left as it is).
    Seed,
    /// Manage API keys.
    #[command(name = "api-key", subcommand)]
    ApiKey(ApiKeyCommand),
    /// Measure intake, drain and latency through herald and a provider over HTTP.
    Bench(crate::bench::BenchArgs),
    /// Copy the monolith's notification templates and log into herald (MIGRATION.md).
    #[command(name = "import-monolith")]
    ImportMonolith(crate::import::ImportArgs),
    /// Run a stand-alone fake SMS provider over HTTP (for demos, fault tests, benchmarks).
    MockProvider {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        /// The wire format it speaks: herald's JSON (and FCM), or an SMS API preset's.
        #[arg(long, value_enum, default_value_t = crate::mock_provider::Format::Herald)]
        format: crate::mock_provider::Format,
        #[command(flatten)]
        knobs: crate::mock_provider::Knobs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; it is printed once.
    Create {
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// The key's own request rate limit per API process, e.g. `5/s` (default: [api.rate_limit]).
        #[arg(long, value_name = "N/s")]
        rate_limit: Option<RequestRate>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by its id.
    Revoke { id: ApiKeyId },
    /// Set a key's own request rate limit, e.g. `5/s`; `default` holds it to [api.rate_limit] again.
    SetRateLimit {
        id: ApiKeyId,
        #[arg(value_name = "N/s|default")]
        rate_limit: KeyRateLimit,
    },
}

/// A key's own rate limit as the command line gives it: `5/s`, or `default` for none.
#[derive(Debug, Clone, Copy)]
pub struct KeyRateLimit(Option<RequestRate>);

impl FromStr for KeyRateLimit {
    type Err = RequestRateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "default" => Ok(Self(None)),
            rate => rate.parse().map(|rate| Self(Some(rate))),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::MockProvider { listen, format, knobs } => return mock_provider(listen, format, knobs).await,
        Command::Bench(args) => {
            telemetry::init(crate::config::LogFormat::Pretty);
            return crate::bench::run(args).await;
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(config.log_format);
    match cli.command {
        Command::Serve => serve(config, Roles::ALL).await,
        Command::Api => serve(config, Roles::API).await,
        Command::Worker => serve(config, Roles::WORKER).await,
        Command::Migrate => {
            app::open_store(&config).await?.close().await;
            println!("migrations applied to {}", app::redact_url(&config.database_url));
            Ok(())
        }
        Command::Seed => {
            let store = app::open_store(&config).await?;
            let outcome = crate::services::seed::seed(store.as_ref(), &config.sms.default_sender).await;
            store.close().await;
            match outcome? {
                crate::services::seed::Seeded::Created { customers, campaigns } => println!(
                    "seeded {customers} customers and {campaigns} campaigns (draft, scheduled, and one sending: \
                     `herald serve` sends it)"
                ),
                crate::services::seed::Seeded::AlreadyThere => println!("already seeded; nothing changed"),
            }
            Ok(())
        }
        Command::ApiKey(command) => api_key(config, command).await,
        Command::ImportMonolith(args) => crate::import::run(&config, args).await,
        Command::MockProvider { .. } | Command::Bench(_) => {
            unreachable!("handled before configuration is loaded")
        }
    }
}

async fn mock_provider(
    listen: std::net::SocketAddr,
    format: crate::mock_provider::Format,
    knobs: crate::mock_provider::Knobs,
) -> anyhow::Result<()> {
    knobs.validate().map_err(anyhow::Error::msg)?;
    telemetry::init(crate::config::LogFormat::Pretty);
    let listener = crate::mock_provider::bind(listen).await?;
    println!("mock provider listening on http://{}", listener.local_addr()?);
    println!(
        "  {}   GET /stats   GET /messages   GET|PUT /knobs   POST /reset",
        crate::mock_provider::sms_apis::send_path(format)
    );
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        trigger.cancel();
    });
    crate::mock_provider::serve_format(listener, knobs, format, shutdown).await?;
    Ok(())
}

async fn serve(config: Config, roles: Roles) -> anyhow::Result<()> {
    let database = app::redact_url(&config.database_url);
    let provider = match config.provider.kind {
        crate::config::ProviderKind::Mock => format!(
            "mock ({:.0}% success, {} ms latency)",
            config.mock_provider.success_rate * 100.0,
            config.mock_provider.latency_ms
        ),
        crate::config::ProviderKind::Http => {
            format!("{} (HTTP, {})", config.provider.http.name, config.provider.http.url)
        }
        // Refused by validation in [provider]; SMTP relays, FCM and the presets are [[providers]] entries.
        kind => kind.as_str().to_owned(),
    };
    // With [[providers]], the single [provider] above is not used.
    let provider = if config.providers.is_empty() {
        provider
    } else {
        let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
        format!("{} (routes: {})", names.join(", "), config.routing().routes.len())
    };
    let dashboard = config.dashboard.enabled;
    let app = Application::build(config, roles).await?;
    if let Some(addr) = app.local_addr() {
        println!("herald is listening on http://{addr}");
        if dashboard {
            println!("  dashboard: http://{addr}/   (sign in with the API key)");
        }
        println!("  API docs:  http://{addr}/docs   (OpenAPI: http://{addr}/api/v1/openapi.json)");
        println!("  events:    http://{addr}/api/v1/events");
    }
    println!("  database:  {database}");
    if roles.worker {
        println!("  provider:  {provider}");
    }
    match app.key_notice() {
        KeyNotice::Created(secret) => {
            println!("  API key:   created now and shown only this once; keep it:");
            println!();
            println!("    export HERALD_API_KEY={secret}");
            println!();
        }
        KeyNotice::Bootstrap => println!("  API key:   the one in HERALD_BOOTSTRAP_API_KEY"),
        KeyNotice::BootstrapRevoked => {
            println!("  API key:   HERALD_BOOTSTRAP_API_KEY names a revoked key; it is not accepted");
        }
        KeyNotice::Existing if roles.api => {
            println!("  API key:   use a key created earlier, or `herald api-key create`");
        }
        KeyNotice::Existing => {}
    }
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        trigger.cancel();
    });
    app.run(shutdown).await
}

async fn api_key(config: Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = app::open_store(&config).await?;
    let account = store.ensure_default_account().await?;
    match command {
        ApiKeyCommand::Create { name, rate_limit } => {
            let created =
                api_keys::create_with_rate_limit(store.as_ref(), account, &name, rate_limit).await?;
            println!("created key {} ({name}); it is shown only this once:", created.record.id);
            println!("{}", created.secret);
        }
        ApiKeyCommand::List => {
            println!(
                "{:<36}  {:<12}  {:<20}  {:<25}  {:<10}  status",
                "id", "prefix", "name", "created", "rate limit"
            );
            for key in store.list_api_keys().await? {
                let status =
                    key.revoked_at.map_or("active".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                println!(
                    "{:<36}  {:<12}  {:<20}  {:<25}  {:<10}  {status}",
                    key.id,
                    format!("{}…", key.prefix),
                    key.name,
                    key.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    key.rate_limit.map_or("default".to_owned(), |rate| rate.to_string()),
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            let revoked = store.revoke_api_key(id, Utc::now()).await?;
            anyhow::ensure!(revoked, "no active key with id {id}");
            println!("revoked key {id}");
        }
        ApiKeyCommand::SetRateLimit { id, rate_limit: KeyRateLimit(rate_limit) } => {
            let set = store.set_api_key_rate_limit(id, rate_limit).await?;
            anyhow::ensure!(set, "no active key with id {id}");
            let shown =
                rate_limit.map_or("the default, [api.rate_limit]".to_owned(), |rate| rate.to_string());
            println!("key {id} is limited to {shown}");
        }
    }
    store.close().await;
    Ok(())
}
