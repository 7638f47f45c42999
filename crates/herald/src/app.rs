//! The composition root: configuration in, adapters wired to ports, tasks started.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use herald_domain::AccountId;
use tokio::{net::TcpListener, sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::{
        inlet::{Feed, Inlet},
        relay::Relay,
        transport, BrokerStatus, Topology,
    },
    api::{self, AppState},
    config::{Config, JobTransport, ProviderConfig, Routing},
    dispatch::Dispatcher,
    metrics::Metrics,
    ports::{Provider, Store},
    providers,
    services::{
        api_keys::{self, Authenticator},
        campaigns::Campaigns,
        commands::Commands,
        compose::Composer,
        customers::Customers,
        dead_letters::DeadLetters,
        events::EventFeed,
        health::Health,
        intake::Intake,
        messages::Messages,
        overview::{BreakerStates, Overview},
        receipts::Receipts,
        relay::OutboxRelay,
        templates::Templates,
        user_events::UserEvents,
        users::Users,
    },
    store,
};

/// Which parts of herald this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { api: true, worker: true };
    pub const API: Roles = Roles { api: true, worker: false };
    pub const WORKER: Roles = Roles { api: false, worker: true };
}

/// How the process's API key situation looked at start-up (for the start-up banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyNotice {
    /// No key existed: this one was created and is shown once.
    Created(String),
    /// `HERALD_BOOTSTRAP_API_KEY` is active.
    Bootstrap,
    /// `HERALD_BOOTSTRAP_API_KEY` names a revoked key.
    BootstrapRevoked,
    /// Keys already exist.
    Existing,
}

pub struct Application {
    config: Arc<Config>,
    roles: Roles,
    store: Arc<dyn Store>,
    routing: Routing,
    /// `providers[i]` is the adapter of `routing.providers[i]`.
    providers: Vec<Arc<dyn Provider>>,
    listener: Option<TcpListener>,
    wake: Arc<Notify>,
    key_notice: KeyNotice,
    metrics: Arc<Metrics>,
    account: AccountId,
    broker: Arc<BrokerStatus>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("roles", &self.roles).finish_non_exhaustive()
    }
}

/// Connects to the database and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let options = store::StoreOptions { sqlite_max_size_mb: config.sqlite_max_size_mb };
    let store = store::connect_with(&config.database_url, &options)
        .await
        .with_context(|| format!("could not open the database ({})", redact_url(&config.database_url)))?;
    store.migrate().await.context("could not migrate the database")?;
    Ok(store)
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Application {
    /// Builds herald with the providers its configuration names.
    pub async fn build(config: Config, roles: Roles) -> anyhow::Result<Self> {
        Self::build_with_providers(config, roles, Vec::new()).await
    }

    /// Builds herald around a given provider (tests pass a scripted mock): with the single
    /// `[provider]` section it is that provider; with `[[providers]]` it replaces the entry
    /// of its name.
    pub async fn build_with_provider(
        config: Config,
        roles: Roles,
        provider: Arc<dyn Provider>,
    ) -> anyhow::Result<Self> {
        Self::build_with_providers(config, roles, vec![provider]).await
    }

    /// Builds herald with `given` providers in place of the `[[providers]]` entries of the
    /// same names (tests pass scripted ones); the other entries are built from the
    /// configuration.
    pub async fn build_with_providers(
        config: Config,
        roles: Roles,
        given: Vec<Arc<dyn Provider>>,
    ) -> anyhow::Result<Self> {
        let (routing, providers) = providers::assemble(&config, given)?;
        if routing.legacy
            && serde_json::to_value(&config.provider).ok()
                != serde_json::to_value(ProviderConfig::default()).ok()
        {
            tracing::info!(
                "the single [provider] section is one provider on a default route; it keeps working, \
                 and to add providers or failover write it as [[providers]] (name, kind, channels, \
                 limits, http) and [[routes]] (channel, prefixes, providers): see herald.example.toml"
            );
        }
        let store = open_store(&config).await?;
        let account = store.ensure_default_account().await?;
        let key_notice = if roles.api {
            ensure_api_key(&config, store.as_ref(), account).await?
        } else {
            KeyNotice::Existing
        };
        let listener = if roles.api {
            Some(
                TcpListener::bind(config.listen)
                    .await
                    .with_context(|| format!("could not listen on {} (`listen`)", config.listen))?,
            )
        } else {
            None
        };
        Ok(Self {
            config: Arc::new(config),
            roles,
            store,
            routing,
            providers,
            listener,
            wake: Arc::new(Notify::new()),
            key_notice,
            metrics: Arc::new(Metrics::new()),
            account,
            broker: Arc::new(BrokerStatus::default()),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn key_notice(&self) -> &KeyNotice {
        &self.key_notice
    }

    /// Runs until `shutdown` fires: stops accepting requests, lets the dispatcher finish its
    /// batch, then closes the database pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        let intake = Intake::new(
            self.store.clone(),
            self.config.idempotency.clone(),
            self.metrics.clone(),
            self.wake.clone(),
            Arc::new(self.routing.clone()),
            self.config.sms.default_sender.clone(),
        );
        // The relay stops after the dispatcher, so it flushes the dispatcher's last events.
        let dispatcher_done = CancellationToken::new();
        // The overview reads the breakers of this process's workers; without workers it
        // cannot know them.
        let mut breakers: Option<Arc<dyn BreakerStates>> = None;
        if self.roles.worker {
            let dispatcher = Dispatcher::with_routing(
                self.store.clone(),
                &self.routing,
                self.providers.clone(),
                &self.config,
                self.metrics.clone(),
                self.wake.clone(),
            );
            breakers = Some(Arc::new(dispatcher.breakers()));
            let (token, done) = (shutdown.clone(), dispatcher_done.clone());
            match (&self.config.amqp_url, self.config.job_transport) {
                (Some(url), JobTransport::Amqp) => {
                    let transport = transport::JobTransport {
                        url: url.expose().to_owned(),
                        topology: Topology::new(self.config.amqp.clone()),
                        store: self.store.clone(),
                        dispatcher: Arc::new(dispatcher),
                        dispatch: self.config.dispatch.clone(),
                        metrics: self.metrics.clone(),
                        status: self.broker.clone(),
                        wake: self.wake.clone(),
                    };
                    tasks.spawn(async move {
                        transport.run(token).await;
                        done.cancel();
                        Ok(())
                    });
                }
                _ => {
                    tasks.spawn(async move {
                        dispatcher.run(token).await;
                        done.cancel();
                        Ok(())
                    });
                }
            }
        }
        if self.roles.worker {
            let scheduler = crate::dispatch::scheduler::Scheduler {
                store: self.store.clone(),
                sender: self.config.sms.default_sender.clone(),
                every: Duration::from_millis(self.config.dispatch.poll_interval_ms)
                    .min(Duration::from_secs(1)),
                wake: self.wake.clone(),
            };
            let token = shutdown.clone();
            tasks.spawn(async move {
                scheduler.run(token).await;
                Ok(())
            });
        }
        if let Some(url) = &self.config.amqp_url {
            let topology = Topology::new(self.config.amqp.clone());
            if self.roles.api {
                let commands = Commands {
                    intake: intake.clone(),
                    account: self.account,
                    origin: self.config.amqp.command_queue.clone(),
                    batch_size: usize::from(self.config.amqp.prefetch),
                    metrics: self.metrics.clone(),
                };
                let user_events = UserEvents {
                    store: self.store.clone(),
                    account: self.account,
                    batch_size: usize::from(self.config.amqp.prefetch),
                    metrics: self.metrics.clone(),
                };
                for feed in [Feed::Commands(commands), Feed::UserEvents(user_events)] {
                    let inlet = Inlet {
                        url: url.expose().to_owned(),
                        topology: topology.clone(),
                        feed,
                        metrics: self.metrics.clone(),
                        status: self.broker.clone(),
                    };
                    let token = shutdown.clone();
                    tasks.spawn(async move {
                        inlet.run(token).await;
                        Ok(())
                    });
                }
            }
            if self.roles.worker {
                let relay = Relay {
                    url: url.expose().to_owned(),
                    relay: OutboxRelay {
                        store: self.store.clone(),
                        metrics: self.metrics.clone(),
                        batch_size: self.config.amqp.relay_batch_size,
                        poll_interval: Duration::from_millis(self.config.amqp.relay_poll_interval_ms),
                    },
                    topology,
                    metrics: self.metrics.clone(),
                    status: self.broker.clone(),
                };
                tasks.spawn(async move {
                    relay.run(dispatcher_done).await;
                    Ok(())
                });
            }
        }
        if self.roles.api {
            tasks.spawn(purge_idempotency_keys(self.store.clone(), shutdown.clone()));
        }
        if let Some(listener) = self.listener {
            let store = self.store.clone();
            let broker = self.broker.clone();
            let templates = Templates::new(store.clone(), &self.config.templates);
            let state = AppState {
                auth: Authenticator::new(
                    store.clone(),
                    std::time::Duration::from_secs(self.config.dashboard.session_ttl_secs),
                ),
                rate_limits: api::rate_limit::ApiRateLimits::new(&self.config.api.rate_limit),
                messages: Messages::new(store.clone()),
                overview: Overview::new(store.clone(), breakers),
                dead_letters: DeadLetters::new(store.clone(), self.wake.clone()),
                events: EventFeed::new(store.clone()),
                campaigns: Campaigns::new(
                    store.clone(),
                    intake.clone(),
                    self.config.sms.default_sender.clone(),
                    self.wake.clone(),
                ),
                customers: Customers::new(store.clone()),
                users: Users::new(store.clone()),
                composer: Composer::new(store.clone(), templates.clone(), self.config.clone()),
                templates,
                receipts: Receipts::new(store.clone(), self.config.routing(), self.metrics.clone()),
                health: Health::new(store, self.metrics.clone(), Arc::new(move || broker.healthy())),
                intake,
                config: self.config.clone(),
            };
            let app = api::router(state);
            let token = shutdown.clone();
            tasks.spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move { token.cancelled().await })
                    .await
                    .context("HTTP server failed")
            });
        }
        // Once shutdown starts, everything gets the grace period plus a margin for the last
        // commit; whatever still runs then (a client that never finishes its request, a
        // database that does not answer) is cut off, so a stop never hangs.
        let hard_stop = self.config.dispatch.shutdown_grace() + SHUTDOWN_MARGIN;
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(hard_stop).await;
        };
        tokio::pin!(deadline);
        let mut result = Ok(());
        loop {
            tokio::select! {
                joined = tasks.join_next() => {
                    let Some(joined) = joined else { break };
                    if let Err(error) = joined.context("a task panicked").and_then(|r| r) {
                        tracing::error!(error = %format!("{error:#}"), "stopping after a task failed");
                        shutdown.cancel();
                        result = Err(error);
                    }
                }
                () = &mut deadline => {
                    tracing::warn!(
                        tasks = tasks.len(),
                        after = ?hard_stop,
                        "shutdown deadline passed; stopping what is still running"
                    );
                    tasks.shutdown().await;
                    break;
                }
            }
        }
        self.store.close().await;
        result
    }
}

/// Time on top of `dispatch.shutdown_grace_secs` for a stop to finish (last commit, release).
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

/// Deletes expired idempotency keys now and then, until shutdown.
async fn purge_idempotency_keys(store: Arc<dyn Store>, shutdown: CancellationToken) -> anyhow::Result<()> {
    const EVERY: Duration = Duration::from_secs(600);
    loop {
        match store.purge_expired_idempotency_keys(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys deleted"),
            Err(error) => tracing::warn!(%error, "could not purge expired idempotency keys"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn ensure_api_key(config: &Config, store: &dyn Store, account: AccountId) -> anyhow::Result<KeyNotice> {
    if let Some(key) = &config.bootstrap_api_key {
        if config.bootstrap_api_key_is_short() {
            tracing::warn!(
                length = key.expose().chars().count(),
                "HERALD_BOOTSTRAP_API_KEY is short (under {} characters) and can be guessed: \
                 fine for trying herald, not for production; `herald api-key create` makes a long random key",
                crate::config::SHORT_KEY_CHARS
            );
        }
        return Ok(if api_keys::ensure_bootstrap(store, account, key.expose()).await? {
            KeyNotice::Bootstrap
        } else {
            KeyNotice::BootstrapRevoked
        });
    }
    if api_keys::has_active_key(store).await? {
        return Ok(KeyNotice::Existing);
    }
    let created = api_keys::create(store, account, "first key").await?;
    Ok(KeyNotice::Created(created.secret))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_removed_from_database_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/herald"), "postgres://app:***@db:5432/herald");
        assert_eq!(redact_url("sqlite://herald.db"), "sqlite://herald.db");
    }
}
