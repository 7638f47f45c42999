//! Idempotency keys over HTTP: repeat, mismatch, in flight and concurrent.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{
    on_both_backends, spawn_herald, wait_until, Backend, KillOnDrop, TestApp, TestDb, API_KEY,
};

on_both_backends!(
    a_repeated_request_gets_the_first_response_and_creates_one_message,
    a_key_reused_with_another_request_is_refused,
    a_key_whose_request_is_in_flight_gets_a_conflict,
    a_process_killed_mid_request_leaves_its_key_free_for_the_retry,
    concurrent_requests_with_one_key_create_one_message,
    sms_endpoint_honours_idempotency_keys_in_its_own_shape,
);

const SEND: &str = "/api/v1/notifications/send";

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("X-API-Key", API_KEY)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_repeated_request_gets_the_first_response_and_creates_one_message(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});

    let first = post_with_key(&app, SEND, "order-42", &body).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let reordered: Value =
        serde_json::from_str(r#"{"body":"receipt 42","to":"+254712345678","channel":"sms"}"#).unwrap();
    let second = post_with_key(&app, SEND, "order-42", &reordered).await;
    assert_eq!(second.status(), 202);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.text().await.unwrap(), first_body, "the first response, byte for byte");

    let in_body =
        json!({"channel": "sms", "to": "+254712345678", "body": "receipt 43", "idempotency_key": "order-43"});
    let third = app.post_json(SEND, &in_body).await;
    let fourth = app.post_json(SEND, &in_body).await;
    assert_eq!(third.status(), 202);
    assert_eq!(fourth.headers()["idempotent-replayed"], "true");
    assert_eq!(third.text().await.unwrap(), fourth.text().await.unwrap());

    assert_eq!(app.store.status_counts().await.unwrap().total(), 2, "one message per key");
    let id: Value = serde_json::from_str(&first_body).unwrap();
    app.wait_for_status(id["id"].as_str().unwrap(), "sent").await;
}

async fn a_key_reused_with_another_request_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});
    assert_eq!(post_with_key(&app, SEND, "k-1", &body).await.status(), 202);

    let other = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 43"});
    let response = post_with_key(&app, SEND, "k-1", &other).await;
    assert_eq!(response.status(), 422);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "IDEMPOTENCY_KEY_REUSED");

    let other_endpoint = post_with_key(
        &app,
        "/sms",
        "k-1",
        &json!({"recipient": 254712345678u64, "originator": "MB", "message": "receipt 42"}),
    )
    .await;
    assert_eq!(other_endpoint.status(), 422, "a key is bound to its endpoint too");

    for bad_key in ["", &"k".repeat(256)] {
        let response = post_with_key(&app, SEND, bad_key, &body).await;
        assert_eq!(response.status(), 400, "{bad_key:?}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "INVALID_IDEMPOTENCY_KEY");
    }
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}

/// A lock from outside herald that makes its message inserts wait: SQLite's write lock,
/// or PostgreSQL's lock on the messages table (the key's own row is written first).
enum InsertBlocker {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl InsertBlocker {
    async fn hold(backend: Backend, url: &str) -> Self {
        use sqlx::Connection;
        match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
                Self::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
                sqlx::query("LOCK TABLE messages IN EXCLUSIVE MODE").execute(&mut conn).await.unwrap();
                Self::Postgres(conn)
            }
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(mut conn) => sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop),
            Self::Postgres(mut conn) => sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop),
        }
        .unwrap();
    }
}

/// Sends the same keyed request twice at once while inserts are blocked: one of them
/// holds the key and waits inside its transaction; the other is answered first, with 409.
/// Returns the waiting one.
async fn one_request_waiting_with_the_key(
    base_url: &str,
    key: &str,
    body: &Value,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let send = || {
        let request = reqwest::Client::new()
            .post(format!("{base_url}{SEND}"))
            .header("X-API-Key", API_KEY)
            .header("Idempotency-Key", key)
            .json(body)
            .send();
        tokio::spawn(request)
    };
    let (first, second) = (send(), send());
    let (conflict, _, mut others) = futures::future::select_all([first, second]).await;
    let conflict = conflict.unwrap().unwrap();
    assert_eq!(conflict.status(), 409, "a repeat while the first request runs");
    assert_eq!(conflict.json::<Value>().await.unwrap()["error"]["code"], "IDEMPOTENCY_KEY_IN_USE");
    others.pop().unwrap()
}

async fn a_key_whose_request_is_in_flight_gets_a_conflict(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});
    let blocker = InsertBlocker::hold(backend, &app.database_url).await;

    let waiting = one_request_waiting_with_the_key(&app.base_url, "busy", &body).await;
    // Released at once: while it is held, herald's own writers (the waiting request, the
    // dispatcher) may occupy every pooled connection.
    blocker.release().await;
    let first = waiting.await.unwrap().unwrap();
    assert_eq!(first.status(), 202, "the first request goes through once inserts may");
    let replay = post_with_key(&app, SEND, "busy", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}

/// A free TCP port on 127.0.0.1, for a herald process of the test's own.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `herald serve` as a process of its own, ready to take requests.
async fn serve(database_url: &str) -> (KillOnDrop, String) {
    let port = free_port();
    let process = spawn_herald(
        "serve",
        database_url,
        "http://127.0.0.1:9",
        &[
            ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
            ("HERALD_BOOTSTRAP_API_KEY", API_KEY),
            ("HERALD_PROVIDER__KIND", "mock"),
        ],
    );
    let base_url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = wait_until(Duration::from_secs(30), || async {
        let response = client.get(format!("{base_url}/health/ready")).send().await;
        response.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "herald serve became ready");
    (process, base_url)
}

async fn a_process_killed_mid_request_leaves_its_key_free_for_the_retry(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let (mut herald, base_url) = serve(&db.url).await;
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "receipt 42"});
    let blocker = InsertBlocker::hold(backend, &db.url).await;
    let waiting = one_request_waiting_with_the_key(&base_url, "order-42", &body).await;

    herald.kill_hard();
    assert!(waiting.await.unwrap().is_err(), "the request in flight died with its process");
    blocker.release().await;

    let (_herald, base_url) = serve(&db.url).await;
    let retry = reqwest::Client::new()
        .post(format!("{base_url}{SEND}"))
        .header("X-API-Key", API_KEY)
        .header("Idempotency-Key", "order-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 202, "the retry is served at once, not IDEMPOTENCY_KEY_IN_USE");
    assert!(retry.headers().get("idempotent-replayed").is_none(), "the first request stored nothing");
    let store = herald::store::connect(&db.url).await.unwrap();
    assert_eq!(store.status_counts().await.unwrap().total(), 1);
    store.close().await;
}

async fn concurrent_requests_with_one_key_create_one_message(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "one and only"});

    let responses = join_all((0..12).map(|_| post_with_key(&app, SEND, "race", &body))).await;

    let mut ids = std::collections::HashSet::new();
    for response in responses {
        match response.status().as_u16() {
            202 => {
                let json: Value = response.json().await.unwrap();
                ids.insert(json["id"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "IDEMPOTENCY_KEY_IN_USE")
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 202 names the same message");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}

async fn sms_endpoint_honours_idempotency_keys_in_its_own_shape(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({"recipient": 31633450007u64, "originator": "MB", "message": "paid"});

    let first = post_with_key(&app, "/sms", "pay-1", &body).await;
    let second = post_with_key(&app, "/sms", "pay-1", &body).await;
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let expected = r#"{"message":"Your SMS is being handled","status":"ok"}"#;
    assert_eq!(first.text().await.unwrap(), expected);
    assert_eq!(second.text().await.unwrap(), expected);

    let changed = json!({"recipient": 31633450007u64, "originator": "MB", "message": "paid twice?"});
    let mismatch = post_with_key(&app, "/sms", "pay-1", &changed).await;
    assert_eq!(mismatch.status(), 422);
    let json: Value = mismatch.json().await.unwrap();
    assert_eq!(json["status"], "error");
    assert!(json["message"].as_str().unwrap().contains("different request"), "{json}");

    let bad_key = post_with_key(&app, "/sms", "", &body).await;
    assert_eq!(bad_key.status(), 400);
    assert_eq!(bad_key.json::<Value>().await.unwrap()["status"], "error");
    assert_eq!(app.store.status_counts().await.unwrap().total(), 1);
}
