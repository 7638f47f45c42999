//! The suite's own runner (libtest-mimic, `harness = false`): it knows which services each
//! test needs, probes PostgreSQL and RabbitMQ once before running, and reports a test whose
//! service is unreachable as *ignored*, with the reason, in the summary line. Under libtest
//! such a test returned early and counted as passed, its "SKIPPED" line hidden in captured
//! output. `HERALD_REQUIRE_SERVICES=1` turns each of them into a failure instead.
//!
//! # Adding a test
//!
//! A test is an `async fn name()` (or a plain `fn`) with one attribute naming the services
//! it needs:
//!
//! ```text
//! #[crate::harness::test]                     // neither (SQLite, the mock provider, a child process)
//! #[crate::harness::test(postgres)]           // PostgreSQL (HERALD_TEST_DATABASE_URL)
//! #[crate::harness::test(rabbitmq)]           // RabbitMQ (HERALD_TEST_AMQP_URL)
//! #[crate::harness::test(postgres, rabbitmq)] // both
//! async fn a_thing_happens() { ... }
//! ```
//!
//! It replaces `#[tokio::test]`, `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`
//! or `#[test]` one for one: those alone are never run here (`every_test_is_registered` fails
//! on them). Each test gets its own multi-thread runtime with two workers. `on_both_backends!(a, b)`
//! registers `a::sqlite` (needing nothing) and `a::postgres` (needing PostgreSQL);
//! `on_both_backends!(rabbitmq; a, b)` adds RabbitMQ to both. Names are the module path as
//! libtest printed them, so `cargo test --test it -- <filter>`, `--exact`, `--list`,
//! `--ignored` and `cargo nextest run` work as before.
//!
//! Output capture: libtest-mimic captures nothing, so each test's `tracing` logs (the app's
//! warnings) are collected per test and shown only when it fails, as libtest did.

use std::{
    collections::BTreeMap,
    future::Future,
    io,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use libtest_mimic::{Arguments, Completion, Failed, FormatSetting, Trial};

pub use herald_test_macros::test;

/// A service outside the test process that a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Postgres,
    RabbitMq,
}

impl Service {
    fn label(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::RabbitMq => "RabbitMQ",
        }
    }

    fn url(self) -> String {
        match self {
            Self::Postgres => crate::helpers::postgres_admin_url(),
            Self::RabbitMq => crate::broker::amqp_url(),
        }
    }

    /// `PostgreSQL at <url, password hidden>`.
    fn at(self) -> String {
        format!("{} at {}", self.label(), without_password(&self.url()))
    }

    /// Connects once; the error says why it could not.
    async fn probe(self) -> Result<(), String> {
        let url = self.url();
        match self {
            Self::Postgres => {
                use sqlx::Connection;
                // One plain connection: a pool would hide the refusal behind its own timeout.
                let connect = sqlx::PgConnection::connect(&url);
                let connection = tokio::time::timeout(Duration::from_secs(5), connect)
                    .await
                    .map_err(|_| "timed out after 5 s".to_owned())?
                    .map_err(|error| error.to_string())?;
                let _ = connection.close().await;
            }
            Self::RabbitMq => {
                let connect = herald::amqp::connect(&url, "herald test probe");
                let connection = tokio::time::timeout(Duration::from_secs(5), connect)
                    .await
                    .map_err(|_| "timed out after 5 s".to_owned())?
                    .map_err(|error| error.to_string())?;
                let _ = connection.close(200, "probe done").await;
            }
        }
        Ok(())
    }
}

pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((user_info, host)) = rest.split_once('@') else { return url.to_owned() };
    match user_info.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// One registered test; `#[crate::harness::test]` writes these.
#[derive(Debug)]
pub struct Test {
    pub module: &'static str,
    pub name: &'static str,
    pub needs: &'static [Service],
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// Runs on a runtime of its own (multi-thread, two workers).
    Async(fn() -> Pin<Box<dyn Future<Output = ()>>>),
    /// Runs on the runner's thread, outside any runtime.
    Sync(fn()),
}

inventory::collect!(Test);

impl Test {
    /// The path libtest printed: the module below the crate root, then the function.
    fn path(&self) -> String {
        match self.module.split_once("::") {
            Some((_crate, module)) => format!("{module}::{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

tokio::task_local! {
    static SKIPPED: Arc<Mutex<Option<String>>>;
}

/// Called by a helper that finds its service gone after the probe said it was there: the
/// test returns early, and this makes the runner count it as ignored rather than passed.
pub fn skipped(service: Service, error: &dyn std::fmt::Display) {
    skip(format!("{} became unreachable: {error}", service.at()));
}

/// Reports the running test as ignored, with `reason`, once it returns: for a test that
/// finds at run time that it cannot run here (e.g. it may not mount a file system).
pub fn skip(reason: String) {
    let _ = SKIPPED.try_with(|slot| *slot.lock().unwrap() = Some(reason));
}

fn services_required() -> bool {
    std::env::var("HERALD_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub fn main() {
    let mut args = Arguments::from_args();
    // libtest reads this; libtest-mimic only knows --test-threads.
    if args.test_threads.is_none() {
        args.test_threads = std::env::var("RUST_TEST_THREADS").ok().and_then(|n| n.parse().ok());
    }
    let mut tests: Vec<&'static Test> = inventory::iter::<Test>.into_iter().collect();
    tests.sort_by_key(|test| test.path());

    // Which tests this run selects, whether or not they end up ignored.
    let selector = Arguments { ignored: false, ..args.clone() };
    let selected: Vec<&'static Test> = tests
        .iter()
        .copied()
        .filter(|test| !selector.is_filtered_out(&Trial::test(test.path(), || Ok(()))))
        .collect();
    let mut wanted: Vec<Service> = selected.iter().flat_map(|test| test.needs.iter().copied()).collect();
    wanted.sort();
    wanted.dedup();
    let unreachable = probe(&wanted);

    let required = services_required();
    let notes: Vec<String> = unreachable
        .iter()
        .map(|(service, error)| {
            let count = selected.iter().filter(|test| test.needs.contains(service)).count();
            let consequence = if required {
                format!("the {count} tests that need it fail (HERALD_REQUIRE_SERVICES=1)")
            } else {
                format!(
                    "the {count} tests that need it are ignored; start it, or set \
                     HERALD_REQUIRE_SERVICES=1 to make this a failure"
                )
            };
            format!("note: {} is unreachable ({error}): {consequence}", service.at())
        })
        .collect();
    let print_notes = !args.list && args.format != Some(FormatSetting::Json);
    if print_notes {
        for note in &notes {
            println!("{note}");
        }
    }

    // Listings carry the ignored flag (so `--list --ignored` and nextest see it); a plain
    // run ignores at run time instead, which prints the reason beside each test.
    let flag = args.list || args.ignored || args.include_ignored;
    let trials = tests
        .iter()
        .map(|&test| {
            let missing: Vec<(Service, String)> = test
                .needs
                .iter()
                .filter_map(|service| Some((*service, unreachable.get(service)?.clone())))
                .collect();
            let ignored = !missing.is_empty() && !required;
            Trial::ignorable_test(test.path(), move || run(test, &missing, required))
                .with_ignored_flag(ignored && flag)
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if print_notes && !notes.is_empty() {
        for note in &notes {
            println!("{note}");
        }
        println!();
    }
    conclusion.exit()
}

/// The services among `wanted` that do not answer, each with its error.
fn probe(wanted: &[Service]) -> BTreeMap<Service, String> {
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let outcomes = futures::future::join_all(
            wanted.iter().map(|&service| async move { (service, service.probe().await) }),
        )
        .await;
        outcomes.into_iter().filter_map(|(service, outcome)| Some((service, outcome.err()?))).collect()
    })
}

/// Runs one test, unless a service it needs is among `missing` (each with its error).
fn run(test: &Test, missing: &[(Service, String)], required: bool) -> Result<Completion, Failed> {
    if required && !missing.is_empty() {
        let errors: Vec<String> = missing
            .iter()
            .map(|(service, error)| format!("{} is unreachable ({error})", service.at()))
            .collect();
        return Err(format!("HERALD_REQUIRE_SERVICES=1 and {}", errors.join("; ")).into());
    }
    if !missing.is_empty() {
        let services: Vec<&str> = missing.iter().map(|(service, _)| service.label()).collect();
        return Ok(Completion::ignored_with(format!("{} unreachable", services.join(" and "))));
    }
    let logs = Logs::default();
    let dispatch = logs.dispatch();
    let skipped = Arc::new(Mutex::new(None));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        tracing::dispatcher::with_default(&dispatch, || match test.body {
            Body::Sync(body) => body(),
            Body::Async(body) => {
                let on_worker = dispatch.clone();
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .on_thread_start(move || {
                        WORKER_LOGS.set(Some(tracing::dispatcher::set_default(&on_worker)))
                    })
                    .on_thread_stop(|| WORKER_LOGS.set(None))
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(SKIPPED.scope(skipped.clone(), body()));
            }
        })
    }));
    match outcome {
        Ok(()) => Ok(match skipped.lock().unwrap().take() {
            Some(reason) => Completion::ignored_with(reason),
            None => Completion::Completed,
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(format!("test panicked: {message}{}", logs.for_failure()).into())
        }
    }
}

thread_local! {
    // A runtime worker's log destination, for as long as the worker lives.
    static WORKER_LOGS: std::cell::Cell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::Cell::new(None) };
}

/// One test's log lines (warnings and errors, as `herald::telemetry::init_for_tests`).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn dispatch(&self) -> tracing::Dispatch {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
            .with_ansi(false)
            .with_writer(self.clone())
            .finish();
        tracing::Dispatch::new(subscriber)
    }

    fn for_failure(&self) -> String {
        let text = self.0.lock().unwrap();
        if text.is_empty() {
            String::new()
        } else {
            format!("\n\n---- logs ----\n{}", String::from_utf8_lossy(&text))
        }
    }
}

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// A `#[tokio::test]` or `#[test]` in this suite would compile and never run: libtest is
/// not its runner. Every test must carry `#[crate::harness::test]`.
#[self::test]
async fn every_test_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut unregistered = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (number, line) in source.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("#[tokio::test") || line.starts_with("#[test") {
                unregistered.push(format!("{}:{}: {line}", path.display(), number + 1));
            }
        }
    }
    assert!(
        unregistered.is_empty(),
        "these never run; use #[crate::harness::test(<services>)] (see tests/it/harness.rs):\n{}",
        unregistered.join("\n")
    );
}
