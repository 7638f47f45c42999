//! A database that stops taking writes never turns into accepted-but-lost messages: every
//! request that got a 2xx is stored (readable from a fresh connection and after a restart),
//! every other one got a 503 in the documented shape, readiness says so meanwhile, and herald
//! recovers by itself once writes work again, with no idempotency key left stuck.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::future::join_all;
use herald::app::Roles;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::helpers::{wait_until, Backend, TestApp, TestDb, API_KEY};

const SEND: &str = "/api/v1/notifications/send";

/// What became of one request: its status and, for a 2xx, the message id.
#[derive(Debug, Default)]
struct Ledger {
    accepted: BTreeMap<String, String>,
    refused: Vec<(String, u16)>,
    /// Other resources (`/api/v1/customers/<id>`) created while the database was full.
    created: Vec<String>,
    /// How many refused requests were retried (and then served).
    retried: usize,
}

/// Sends request `n` (with the idempotency key `key-<n>`) and records its answer.
async fn send(app: &TestApp, n: usize, ledger: &Mutex<Ledger>) -> u16 {
    let key = format!("key-{n}");
    let response = app
        .client
        .post(app.url(SEND))
        .header("X-API-Key", API_KEY)
        .header("Idempotency-Key", &key)
        .json(&json!({"channel": "sms", "to": "+254712345678", "body": format!("receipt {n}")}))
        .send()
        .await
        .expect("herald answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON answer");
    let mut ledger = ledger.lock().await;
    if (200..300).contains(&status) {
        ledger.accepted.insert(key, body["id"].as_str().expect("an id").to_owned());
    } else {
        assert_eq!(status, 503, "a failed store is a 503, not {status}: {body}");
        assert_eq!(body["error"]["code"], "DATABASE_UNAVAILABLE", "{body}");
        ledger.refused.push((key, status));
    }
    status
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get("/health/ready").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A worker whose result could not be committed (the database was full) leaves its
/// messages `sending` until their lease expires: short leases let the restarted app take
/// them over within the test's patience.
fn short_leases(config: &mut herald::config::Config) {
    config.dispatch.lease_secs = 2;
    config.dispatch.provider_timeout_ms = 400;
}

/// Every accepted message is in the database as seen from a new connection, and from an
/// app started afresh on it; all of them get sent (nothing is stuck).
async fn assert_every_accepted_message_is_stored(database_url: &str, ledger: &Ledger) {
    let fresh = herald::store::connect(database_url).await.expect("a fresh connection");
    let account = fresh.ensure_default_account().await.unwrap();
    for id in ledger.accepted.values() {
        let id = id.parse().unwrap();
        assert!(
            fresh.get_message(account, id).await.unwrap().is_some(),
            "accepted message {id} is not stored"
        );
    }
    fresh.close().await;

    let restarted = TestApp::spawn_on(database_url, Roles::ALL, short_leases).await;
    for path in &ledger.created {
        assert_eq!(restarted.get(path).await.status(), 200, "{path} was created, so it is stored");
    }
    for id in ledger.accepted.values() {
        restarted.wait_for_status(id, "sent").await;
    }
    restarted.stop().await;
}

/// The clients whose requests got a 503 retry with the same key: each is served at once,
/// never `IDEMPOTENCY_KEY_IN_USE`.
async fn retry_the_refused(app: &TestApp, ledger: &Mutex<Ledger>) {
    let refused: Vec<usize> = ledger
        .lock()
        .await
        .refused
        .drain(..)
        .map(|(key, _)| key.trim_start_matches("key-").parse().unwrap())
        .collect();
    for &n in &refused {
        assert_eq!(send(app, n, ledger).await, 202, "the retry of request {n} is served");
    }
    ledger.lock().await.retried += refused.len();
}

/// Sends until the database has refused 50 requests in a row; checks that other writes
/// (a customer, a campaign) are refused too and that readiness says so; then makes room
/// with `make_room`, waits until herald takes messages again by itself, retries the refused
/// requests and checks that every accepted message is stored.
async fn fill_up_then_recover<F: std::future::Future<Output = ()>>(
    app: TestApp,
    make_room: impl FnOnce() -> F,
) -> Ledger {
    assert_eq!(readiness(&app).await.0, 200);
    let ledger = Mutex::new(Ledger::default());
    let mut refused_in_a_row = 0;
    for n in 0..20_000 {
        if send(&app, n, &ledger).await == 503 {
            refused_in_a_row += 1;
            if refused_in_a_row == 50 {
                break;
            }
        } else {
            refused_in_a_row = 0;
        }
    }
    assert_eq!(refused_in_a_row, 50, "the database never filled up");
    // Readiness probes at most once a second: it may take that long to notice.
    let not_writable = wait_until(Duration::from_secs(10), || async {
        let (status, health) = readiness(&app).await;
        (status, health["checks"]["database"].as_str()) == (503, Some("not writable"))
    })
    .await;
    assert!(not_writable, "readiness reports the database as not writable");
    // Other writes are refused too, or (a small row may still fit) stored for real.
    let mut created = Vec::new();
    for (path, body) in [
        ("/api/v1/customers", json!({"phone": "+254712345678"})),
        ("/api/v1/campaigns", json!({"name": "full", "channel": "sms", "base_template": "hi"})),
    ] {
        let response = app.post_json(path, &body).await;
        match response.status().as_u16() {
            201 => created.push(format!("{path}/{}", response.json::<Value>().await.unwrap()["id"])),
            503 => {}
            other => panic!("POST {path} while full got {other}"),
        }
    }

    make_room().await;
    let recovered = wait_until(Duration::from_secs(30), || async { readiness(&app).await.0 == 200 }).await;
    assert!(recovered, "readiness recovers once there is room");
    retry_the_refused(&app, &ledger).await;
    assert_eq!(send(&app, 20_000, &ledger).await, 202);
    assert_eq!(app.post_json("/api/v1/customers", &json!({"phone": "+254712345678"})).await.status(), 201);
    app.stop().await;
    let mut ledger = ledger.into_inner();
    ledger.created = created;
    ledger
}

#[crate::harness::test]
async fn sqlite_over_its_size_limit_answers_503_stores_every_202_and_recovers() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    // Ballast takes most of the 2 MiB the database may grow to; dropping it later frees
    // its pages, as a disk getting room again.
    let ballast = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url)).await.unwrap();
    sqlx::query("CREATE TABLE ballast (pad BLOB)").execute(&ballast).await.unwrap();
    for _ in 0..24 {
        sqlx::query("INSERT INTO ballast VALUES (randomblob(65536))").execute(&ballast).await.unwrap();
    }
    let app = TestApp::spawn_on(&db.url, Roles::ALL, |c| {
        short_leases(c);
        c.sqlite_max_size_mb = Some(2);
    })
    .await;

    let ledger = fill_up_then_recover(app, || async {
        sqlx::query("DROP TABLE ballast").execute(&ballast).await.unwrap();
        ballast.close().await;
    })
    .await;

    assert!(ledger.accepted.len() > 100, "only {} accepted", ledger.accepted.len());
    assert_every_accepted_message_is_stored(&db.url, &ledger).await;
}

/// A tmpfs of its own, for a file system that really fills up; unmounted on drop.
struct SmallFileSystem {
    dir: tempfile::TempDir,
}

impl SmallFileSystem {
    /// None (after a loud message) where this process may not mount, unless
    /// HERALD_REQUIRE_SERVICES=1.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { dir }),
            other => {
                let why = format!("cannot mount a tmpfs (needs root): {other:?}");
                assert!(!crate::helpers::services_required(), "{why} and HERALD_REQUIRE_SERVICES=1");
                crate::harness::skip(why);
                None
            }
        }
    }

    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount the tmpfs");
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[crate::harness::test]
async fn sqlite_on_a_full_file_system_answers_503_stores_every_202_and_recovers() {
    let Some(disk) = SmallFileSystem::mount("4m") else {
        return;
    };
    let url = format!("sqlite://{}", disk.dir.path().join("herald.db").display());
    let app = TestApp::spawn_on(&url, Roles::ALL, short_leases).await;

    let ledger = fill_up_then_recover(app, || async { disk.grow("64m") }).await;

    assert!(ledger.accepted.len() > 20, "only {} accepted", ledger.accepted.len());
    assert_every_accepted_message_is_stored(&url, &ledger).await;
}

#[crate::harness::test(postgres)]
async fn postgres_backends_terminated_mid_transaction_lose_no_accepted_message() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let app = Arc::new(TestApp::spawn_on(&db.url, Roles::ALL, short_leases).await);
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();

    // Four clients keep sending while backends inside a transaction are terminated.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = tokio_util::sync::CancellationToken::new();
    let clients = (0..4).map(|client| {
        let (app, ledger, stop) = (app.clone(), ledger.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = client;
            while !stop.is_cancelled() {
                send(&app, n, &ledger).await;
                n += 4;
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    let mut terminated = 0;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    // Until 30 backends were terminated, with messages accepted between the terminations.
    while terminated < 30 && tokio::time::Instant::now() < give_up {
        let accepted_before = ledger.lock().await.accepted.len();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
               AND query NOT LIKE '%pg_terminate_backend%'",
        )
        .bind(&database)
        .fetch_all(&admin)
        .await
        .unwrap();
        let killed = killed.into_iter().filter(|&k| k).count();
        terminated += killed;
        if killed > 0 {
            let progress = wait_until(Duration::from_secs(10), || async {
                ledger.lock().await.accepted.len() >= accepted_before + 10
            });
            assert!(progress.await, "herald accepts messages again after a terminated backend");
        }
        tokio::task::yield_now().await;
    }
    assert!(terminated >= 30, "terminated only {terminated} backends inside a transaction");
    stop.cancel();
    for client in join_all(clients).await {
        client.unwrap();
    }
    admin.close().await;

    // Writes work again at once: a new connection replaces each terminated one.
    let recovered = wait_until(Duration::from_secs(30), || async { readiness(&app).await.0 == 200 }).await;
    assert!(recovered, "readiness recovers");
    retry_the_refused(&app, &ledger).await;
    let app = Arc::into_inner(app).expect("the clients are done");
    app.stop().await;

    let ledger = Arc::into_inner(ledger).unwrap().into_inner();
    assert!(ledger.accepted.len() >= 50, "only {} accepted", ledger.accepted.len());
    assert!(ledger.retried > 0, "no request was refused: the terminations hit no request");
    assert_every_accepted_message_is_stored(&db.url, &ledger).await;
}
