//! Test scaffolding: fresh databases, a spawned app, typed request helpers, polling.

use std::{future::Future, sync::Arc, time::Duration};

use herald::{
    app::{Application, Roles},
    config::{Config, ProviderKind, Secret},
    ports::{Provider, Store},
    providers::MockProvider,
};
use tokio_util::sync::CancellationToken;

pub const API_KEY: &str = "test-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` as two tests, `<name>::sqlite` (needing no service)
/// and `<name>::postgres` (needing PostgreSQL). `on_both_backends!(rabbitmq; ...)`: both
/// need RabbitMQ too. See harness.rs.
macro_rules! on_both_backends {
    (rabbitmq; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[crate::harness::test(rabbitmq)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[crate::harness::test(postgres, rabbitmq)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[crate::harness::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[crate::harness::test(postgres)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

pub fn services_required() -> bool {
    std::env::var("HERALD_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub(crate) fn postgres_admin_url() -> String {
    std::env::var("HERALD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDb {
    /// A fresh, empty database; None (after a loud message) when PostgreSQL is unreachable
    /// and `HERALD_REQUIRE_SERVICES` is not set.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("herald.db").display());
                Some(Self { url, _dir: Some(dir), postgres_name: None })
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = match connect_admin(&admin_url).await {
                    Ok(admin) => admin,
                    Err(error) => {
                        let shown = crate::harness::without_password(&admin_url);
                        assert!(
                            !services_required(),
                            "PostgreSQL at {shown} is unreachable and HERALD_REQUIRE_SERVICES=1: {error}"
                        );
                        eprintln!("\n!!! SKIPPED: PostgreSQL at {shown} is unreachable ({error}); set HERALD_REQUIRE_SERVICES=1 to make this a failure\n");
                        crate::harness::skipped(crate::harness::Service::Postgres, &error);
                        return None;
                    }
                };
                let name = format!("herald_test_{}", uuid::Uuid::now_v7().simple());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
                Some(Self { url: format!("{base}/{name}"), _dir: None, postgres_name: Some(name) })
            }
        }
    }
}

async fn connect_admin(url: &str) -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin_url = postgres_admin_url();
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = connect_admin(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .ok()?;
                admin.close().await;
                Some(())
            })
        })
        .join();
    }
}

/// Configuration for a test app: port 0, a known key, fast retries and polls.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        bootstrap_api_key: Some(Secret::new(API_KEY)),
        ..Config::default()
    };
    config.dispatch.poll_interval_ms = 25;
    config.dispatch.retry_base_ms = 5;
    config.dispatch.retry_cap_ms = 20;
    config.dispatch.provider_timeout_ms = 5_000;
    config.mock_provider.success_rate = 1.0;
    config
}

pub struct TestApp {
    pub base_url: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub mock: Arc<MockProvider>,
    pub store: Arc<dyn Store>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database outlives the app using it (None: another app owns it).
    _db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, Roles::ALL, |_| {}).await
    }

    pub async fn spawn_with(
        backend: Backend,
        roles: Roles,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        let db = TestDb::create(backend).await?;
        let mut app = Self::spawn_on(&db.url, roles, configure).await;
        app._db = Some(db);
        Some(app)
    }

    /// An app whose `[[providers]]` entries of the same names are these scripted providers
    /// (`configure` sets the entries and routes). `mock` is a recording mock nobody routes to.
    pub async fn spawn_with_providers(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
        providers: Vec<Arc<dyn Provider>>,
    ) -> Option<Self> {
        let db = TestDb::create(backend).await?;
        herald::telemetry::init_for_tests();
        let mut config = test_config(&db.url);
        configure(&mut config);
        let mock = Arc::new(MockProvider::new(1.0, Duration::ZERO).recording());
        let app = Application::build_with_providers(config, Roles::ALL, providers).await.expect("app builds");
        let mut app = Self::started(app, &db.url, mock);
        app._db = Some(db);
        Some(app)
    }

    /// Another app (e.g. a second process's role) on an existing test database.
    pub async fn spawn_on(database_url: &str, roles: Roles, configure: impl FnOnce(&mut Config)) -> Self {
        herald::telemetry::init_for_tests();
        let mut config = test_config(database_url);
        configure(&mut config);
        let mock = Arc::new(MockProvider::new(config.mock_provider.success_rate, Duration::ZERO).recording());
        let app = match config.provider.kind {
            // The provider the configuration names (e.g. HTTP to a mock-provider server).
            ProviderKind::Mock => Application::build_with_provider(config, roles, mock.clone()).await,
            _ => Application::build(config, roles).await,
        }
        .expect("app builds");
        Self::started(app, database_url, mock)
    }

    fn started(app: Application, database_url: &str, mock: Arc<MockProvider>) -> Self {
        let base_url = app.local_addr().map(|addr| format!("http://{addr}")).unwrap_or_default();
        let store = app.store();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        Self {
            base_url,
            database_url: database_url.to_owned(),
            client: reqwest::Client::new(),
            mock,
            store,
            shutdown,
            task: Some(task),
            _db: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POST with the test key and a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("X-API-Key", API_KEY)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Any request with the test key and an optional JSON body: its status and JSON (null
    /// when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call_as(API_KEY, method, path, body).await
    }

    /// [`TestApp::call`] with another API key (e.g. [`TestApp::another_account`]'s).
    pub async fn call_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path)).header("X-API-Key", key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A second account, beside the default one the test key belongs to: an API key of it.
    pub async fn another_account(&self) -> String {
        let account = herald_domain::AccountId::new();
        // No port creates accounts: herald itself runs with its default one.
        let insert = "INSERT INTO accounts (id, name, is_default, created_at) VALUES ";
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url).await.expect("database");
            sqlx::query(&format!("{insert} ($1, 'another', FALSE, now())"))
                .bind(account.as_uuid())
                .execute(&pool)
                .await
                .expect("account");
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&self.database_url).await.expect("database");
            sqlx::query(&format!("{insert} ($1, 'another', 0, $2)"))
                .bind(account.to_string())
                .bind(chrono::Utc::now().timestamp_millis())
                .execute(&pool)
                .await
                .expect("account");
            pool.close().await;
        }
        let key = herald::services::api_keys::create(self.store.as_ref(), account, "another").await;
        key.expect("API key").secret
    }

    /// GET with the test key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("X-API-Key", API_KEY).send().await.expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Sends an SMS through `/api/v1/notifications/send`; returns its id.
    pub async fn send_notification(&self, to: &str, body: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/notifications/send",
                &serde_json::json!({"channel": "sms", "to": to, "body": body}),
            )
            .await;
        assert_eq!(response.status(), 202);
        let json: serde_json::Value = response.json().await.unwrap();
        json["id"].as_str().expect("id").to_owned()
    }

    /// Polls the notification until its status is `status`; returns its JSON then.
    pub async fn wait_for_status(&self, id: &str, status: &str) -> serde_json::Value {
        let path = format!("/api/v1/notifications/{id}");
        let found = poll(Duration::from_secs(20), || async {
            let message = self.get_json(&path).await;
            (message["status"] == status).then_some(message)
        })
        .await;
        match found {
            Some(message) => message,
            None => panic!(
                "notification {id} never reached {status}; last seen: {:#}",
                self.get_json(&path).await
            ),
        }
    }

    /// Waits until the message has had one retry scheduled, and asserts that its next
    /// attempt is at least `retry_after` after that failure (a provider's `Retry-After`).
    pub async fn assert_retry_waits(&self, id: &str, retry_after: chrono::Duration) -> serde_json::Value {
        let path = format!("/api/v1/notifications/{id}");
        let waiting = poll(Duration::from_secs(20), || async {
            let message = self.get_json(&path).await;
            (message["retry_count"] == 1).then_some(message)
        })
        .await
        .expect("the answer schedules a retry");
        let failed_at: chrono::DateTime<chrono::Utc> =
            waiting["updated_at"].as_str().unwrap().parse().unwrap();
        let next: chrono::DateTime<chrono::Utc> =
            waiting["next_attempt_at"].as_str().unwrap().parse().unwrap();
        assert!(
            next - failed_at >= retry_after,
            "Retry-After {retry_after} is honoured ({failed_at} -> {next})"
        );
        assert_eq!(waiting["status"], "pending");
        waiting
    }

    /// Every event in the feed so far, following cursors. On PostgreSQL it first waits until the feed shows
    /// every committed event: an event is listed once no older transaction anywhere on
    /// the server is still running, and other tests run transactions of their own.
    pub async fn all_events(&self) -> Vec<serde_json::Value> {
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url).await.expect("database");
            let settled = wait_until(Duration::from_secs(30), || async {
                sqlx::query_scalar::<_, bool>(
                    "SELECT NOT EXISTS (SELECT 1 FROM outbox
                                        WHERE txid >= pg_snapshot_xmin(pg_current_snapshot()))",
                )
                .fetch_one(&pool)
                .await
                .expect("horizon query")
            })
            .await;
            pool.close().await;
            assert!(settled, "an older transaction held the event feed back for 30 s");
        }
        let mut events = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.get_json(&format!("/api/v1/events?after={after}&limit=2")).await;
            let data = page["data"].as_array().unwrap().clone();
            if data.is_empty() {
                return events;
            }
            after = page["next_cursor"].as_str().unwrap().to_owned();
            events.extend(data);
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task joins").expect("app stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Polls `condition` every 10 ms until it holds or `deadline` passes; returns whether it held.
pub async fn wait_until<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll(deadline, || {
        let check = condition();
        async move { check.await.then_some(()) }
    })
    .await
    .is_some()
}

/// Polls `probe` every 10 ms until it yields a value or `deadline` passes.
pub async fn poll<T, F, Fut>(deadline: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl TestApp {
    /// The value of one sample in `/metrics`, e.g. `herald_messages_sent_total{channel="sms",provider="mock"}`.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let response = self.client.get(self.url("/metrics")).send().await.expect("request sent");
        assert_eq!(response.status(), 200, "/metrics is public");
        let text = response.text().await.unwrap();
        text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Waits until a sample in `/metrics` has `value` (counters are updated just after the
    /// commit a test waits for, so a read may come a moment early).
    pub async fn wait_for_metric(&self, sample: &str, value: f64) {
        let reached =
            wait_until(Duration::from_secs(10), || async { self.metric(sample).await == Some(value) }).await;
        assert!(reached, "{sample} never became {value}; last: {:?}", self.metric(sample).await);
    }
}

/// A `herald mock-provider` server running in this test process.
pub struct MockProviderServer {
    pub base_url: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
}

impl MockProviderServer {
    pub async fn start(knobs: herald::mock_provider::Knobs) -> Self {
        Self::start_format(herald::mock_provider::Format::Herald, knobs).await
    }

    /// A mock speaking `format` (an SMS API preset's wire format).
    pub async fn start_format(
        format: herald::mock_provider::Format,
        knobs: herald::mock_provider::Knobs,
    ) -> Self {
        let listener = herald::mock_provider::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(herald::mock_provider::serve_format(listener, knobs, format, shutdown.clone()));
        Self { base_url, client: reqwest::Client::new(), shutdown }
    }

    /// Points a test config's provider at this server.
    pub fn configure(&self, config: &mut Config) {
        config.provider.kind = ProviderKind::Http;
        config.provider.http.name = "mockhttp".into();
        config.provider.http.url = format!("{}/messages", self.base_url);
    }

    pub async fn set_knobs(&self, knobs: &herald::mock_provider::Knobs) {
        let response = self.client.put(format!("{}/knobs", self.base_url)).json(knobs).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    pub async fn stats(&self) -> herald::mock_provider::Stats {
        self.client.get(format!("{}/stats", self.base_url)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn received(&self) -> Vec<herald::mock_provider::Received> {
        self.client.get(format!("{}/messages", self.base_url)).send().await.unwrap().json().await.unwrap()
    }
}

impl Drop for MockProviderServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A child process that is killed if the test ends early (a failed assertion).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl KillOnDrop {
    /// Sends SIGTERM and waits (up to `deadline`) for the exit; returns whether it exited 0.
    pub async fn terminate(&mut self, deadline: Duration) -> bool {
        let pid = self.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let exited = poll(deadline, || {
            let status = self.0.try_wait().unwrap();
            async move { status }
        })
        .await;
        exited.is_some_and(|status| status.success())
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill_hard(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

/// Starts `herald <role>` as a separate process on `database_url`, sending through the
/// HTTP provider at `provider_url`, with extra `HERALD_*` settings.
pub fn spawn_herald(role: &str, database_url: &str, provider_url: &str, env: &[(&str, &str)]) -> KillOnDrop {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .arg(role)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_DATABASE_URL", database_url)
        .env("HERALD_LISTEN", "127.0.0.1:0")
        .env("HERALD_PROVIDER__KIND", "http")
        .env("HERALD_PROVIDER__HTTP__NAME", "mockhttp")
        .env("HERALD_PROVIDER__HTTP__URL", format!("{provider_url}/messages"))
        .env("HERALD_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    KillOnDrop(command.spawn().expect("herald starts"))
}

/// Inserts `count` pending SMS straight into the store (a backlog to drain).
pub async fn seed_backlog(store: &Arc<dyn Store>, count: usize) -> Vec<herald_domain::MessageId> {
    use futures::{stream, StreamExt};
    let account = store.ensure_default_account().await.unwrap();
    let created_at = chrono::Utc::now();
    stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                let message = herald::model::NewMessage {
                    id: herald_domain::MessageId::new(),
                    account_id: account,
                    channel: herald_domain::Channel::Sms,
                    recipient: herald_domain::PhoneNumber::parse("+31633450007").unwrap().into(),
                    sender: Some("MB".into()),
                    body: format!("backlog {n}"),
                    content: Default::default(),
                    user_id: None,
                    tags: Default::default(),
                    created_at,
                    idempotency: None,
                    template: None,
                    hold: None,
                    events: Vec::new(),
                };
                store.insert_message(&message).await.unwrap();
                message.id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// After a crash test: every message is `sent` in the database and the provider received
/// each of them (at least once).
pub async fn assert_database_matches_provider(
    store: &Arc<dyn Store>,
    ids: &[herald_domain::MessageId],
    provider: &MockProviderServer,
) {
    let account = store.ensure_default_account().await.unwrap();
    let received: std::collections::HashSet<String> =
        provider.received().await.into_iter().filter_map(|r| r.reference).collect();
    for id in ids {
        let message = store.get_message(account, *id).await.unwrap().unwrap();
        assert_eq!(message.status, herald_domain::MessageStatus::Sent);
        assert!(
            received.contains(&id.to_string()),
            "{id} is sent in the database but the provider never saw it"
        );
    }
}

/// A real SMTP server (aiosmtpd, `tests/support/smtp_server.py`) for one test, storing what
/// it accepts as .eml files. Python with aiosmtpd is `HERALD_TEST_SMTP_PYTHON` (`.ci/run`
/// installs it into `target/smtp-venv`), else `python3`.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: KillOnDrop,
}

impl SmtpServer {
    /// `None` (said loudly) when aiosmtpd is not installed here; a failure instead with
    /// `HERALD_REQUIRE_SERVICES=1`. `auth`: user and password the server then requires.
    pub async fn start(auth: Option<(&str, &str)>) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port, auth).await
    }

    /// [`SmtpServer::start`] on a given port (a relay back where it was).
    pub async fn start_on(port: u16, auth: Option<(&str, &str)>) -> Option<Self> {
        Self::start_with(port, auth, None).await
    }

    /// A server that requires STARTTLS (`"starttls"`) or speaks TLS from the start
    /// (`"implicit"`), with the certificate in tests/support/tls (for 127.0.0.1, from the
    /// CA in `ca.pem` there).
    pub async fn start_tls(mode: &str) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_with(port, None, Some(mode)).await
    }

    /// The CA that signed the TLS servers' certificate.
    pub const TEST_CA: &'static str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls/ca.pem");

    async fn start_with(port: u16, auth: Option<(&str, &str)>, tls: Option<&str>) -> Option<Self> {
        let python = std::env::var("HERALD_TEST_SMTP_PYTHON").unwrap_or_else(|_| "python3".into());
        let available = std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            assert!(
                !services_required(),
                "aiosmtpd is not installed for {python} (HERALD_REQUIRE_SERVICES=1)"
            );
            let reason = format!("no aiosmtpd for {python}; `bash .ci/run` installs it (target/smtp-venv)");
            eprintln!("SKIPPED: {reason}");
            // Counted as ignored, with the reason, not as passed.
            crate::harness::skip(reason);
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut command = std::process::Command::new(&python);
        command
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if let Some((user, password)) = auth {
            command.args(["--auth", &format!("{user}:{password}")]);
        }
        if let Some(mode) = tls {
            let tls_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls");
            command.args([
                "--tls",
                mode,
                "--cert",
                &format!("{tls_dir}/server.pem"),
                "--key",
                &format!("{tls_dir}/server.key"),
            ]);
        }
        let mut child = command.spawn().expect("the SMTP server starts");
        let stdout = child.stdout.take().expect("piped");
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(30), ready).await;
        assert!(
            matches!(&line, Ok(Ok(Ok(line))) if line.trim() == "ready"),
            "the SMTP server did not start: {line:?}"
        );
        Some(Self { port, dir, child: KillOnDrop(child) })
    }

    /// Asserts that a raw message has each of `headers` as a line of its own.
    pub fn assert_headers(raw: &str, headers: &[&str]) {
        for header in headers {
            assert!(raw.lines().any(|line| line == *header), "{header:?} missing in:\n{raw}");
        }
    }

    /// The messages accepted so far, oldest first, as their raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        paths.sort();
        paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
    }

    /// Waits until `count` messages were accepted; returns them.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<String> {
        let found = poll(Duration::from_secs(30), || async {
            let messages = self.messages();
            (messages.len() >= count).then_some(messages)
        })
        .await;
        found.unwrap_or_else(|| panic!("{count} messages expected, {} arrived", self.messages().len()))
    }

    /// Stops the server (a relay that is down).
    pub fn stop(mut self) {
        self.child.kill_hard();
    }
}
