//! `herald mock-provider`: a stand-alone fake SMS provider over HTTP, for demos, fault
//! tests and benchmarks. It sends nothing. Knobs (changeable at run time with
//! `PUT /knobs`) make it slow, failing (500), throttling (429 with `Retry-After`), hanging
//! or dropping connections; every message it accepted is recorded, so duplicates and
//! send rates can be counted over HTTP.
//!
//! - `POST /messages` `{"to", "from", "body", "reference"}` -> `200 {"id", "status": "accepted"}`
//! - `GET /stats` -> calls, accepted, unique references, duplicates, TCP connections accepted
//! - `GET /messages` -> every accepted message with the time it arrived
//! - `GET /knobs`, `PUT /knobs` -> read or replace the knobs; `POST /reset` forgets the record

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, RwLock,
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::State,
    http::{header::RETRY_AFTER, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the mock behaves. Rates are shares of calls in [0, 1]; together at most 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Delay before answering, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of calls answered 500.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Share of calls answered 429 with `Retry-After: retry_after_secs`.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share of calls that never get an answer.
    #[arg(long, default_value_t = 0.0)]
    pub hang_rate: f64,
    /// Share of calls whose connection breaks in the middle of the answer.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Spread the rates evenly over the calls (in arrival order) instead of at random: any
    /// run of calls then fails close to exactly `failure_rate` of them, for tests that
    /// count.
    #[arg(long, default_value_t = false)]
    pub even: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            failure_rate: 0.0,
            throttle_rate: 0.0,
            retry_after_secs: 1,
            hang_rate: 0.0,
            drop_rate: 0.0,
            even: false,
        }
    }
}

impl Knobs {
    pub fn validate(&self) -> Result<(), String> {
        let rates = [self.failure_rate, self.throttle_rate, self.hang_rate, self.drop_rate];
        if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err("rates must each be in [0, 1] and add up to at most 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct SendIn {
    to: String,
    #[serde(default)]
    from: Option<String>,
    body: String,
    #[serde(default)]
    reference: Option<String>,
}

/// One message the mock accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    pub id: String,
    pub reference: Option<String>,
    pub to: String,
    pub from: Option<String>,
    pub body_chars: usize,
    pub received_at: DateTime<Utc>,
}

/// Counts over everything the mock saw since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every call, whatever the answer.
    pub calls: u64,
    /// Calls answered 200 (messages "sent").
    pub accepted: u64,
    /// Distinct `reference` values among accepted messages.
    pub unique_references: u64,
    /// Accepted messages whose `reference` had been accepted before.
    pub duplicates: u64,
    /// Most calls that were in progress at the same moment since the start (or reset).
    pub peak_in_flight: u64,
    /// TCP connections accepted since the start (or reset): with keep-alive, about as many
    /// as the client had calls in flight.
    #[serde(default)]
    pub connections: u64,
}

#[derive(Debug, Default)]
struct MockState {
    knobs: RwLock<Knobs>,
    calls: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    connections: AtomicU64,
    received: Mutex<Vec<Received>>,
    by_reference: Mutex<HashMap<String, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn router(knobs: Knobs) -> Router {
    routes(Arc::new(MockState { knobs: RwLock::new(knobs), ..MockState::default() }))
}

fn routes(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/messages", post(send).get(list))
        .route("/stats", get(stats))
        .route("/knobs", get(get_knobs).put(put_knobs))
        .route("/reset", post(reset))
        .with_state(state)
}

/// Serves the mock on `listener` until `shutdown` fires.
pub async fn serve(listener: TcpListener, knobs: Knobs, shutdown: CancellationToken) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let state = Arc::new(MockState { knobs: RwLock::new(knobs), ..MockState::default() });
    let counted = state.clone();
    let listener = listener.tap_io(move |_| {
        counted.connections.fetch_add(1, Ordering::Relaxed);
    });
    axum::serve(listener, routes(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Counts a call as in progress until it is dropped (answered, or abandoned by the client).
struct InFlight<'a>(&'a MockState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a MockState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn send(State(state): State<Arc<MockState>>, Json(message): Json<SendIn>) -> Response {
    let call = state.calls.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight::enter(&state);
    let knobs = state.knobs.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if knobs.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
    }
    // Even: the golden-ratio sequence, whose first n values fall into any interval of
    // [0, 1) close to n times its length, in every run of calls.
    let roll: f64 = if knobs.even { (call as f64 * 0.618_033_988_749_895).fract() } else { rand::random() };
    let mut threshold = knobs.hang_rate;
    if roll < threshold {
        // Never answer; the client's timeout has to deal with it.
        std::future::pending::<()>().await;
    }
    threshold += knobs.drop_rate;
    if roll < threshold {
        // Headers go out, then the body stream fails: the connection is cut mid-answer.
        let broken =
            futures::stream::once(async { Err::<axum::body::Bytes, _>(std::io::Error::other("dropped")) });
        return (StatusCode::OK, Body::from_stream(broken)).into_response();
    }
    threshold += knobs.throttle_rate;
    if roll < threshold {
        let body = Json(serde_json::json!({"error": "rate limited"}));
        return (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, knobs.retry_after_secs.to_string())], body)
            .into_response();
    }
    threshold += knobs.failure_rate;
    if roll < threshold {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": "simulated failure"})))
            .into_response();
    }
    let id = format!("mp-{}", uuid::Uuid::now_v7().simple());
    if let Some(reference) = &message.reference {
        *lock(&state.by_reference).entry(reference.clone()).or_insert(0) += 1;
    }
    lock(&state.received).push(Received {
        id: id.clone(),
        reference: message.reference,
        to: message.to,
        from: message.from,
        body_chars: message.body.chars().count(),
        received_at: Utc::now(),
    });
    Json(serde_json::json!({"id": id, "status": "accepted"})).into_response()
}

async fn list(State(state): State<Arc<MockState>>) -> Json<Vec<Received>> {
    Json(lock(&state.received).clone())
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<Stats> {
    let accepted = lock(&state.received).len() as u64;
    let unique = lock(&state.by_reference).len() as u64;
    let with_reference: u64 = lock(&state.by_reference).values().sum();
    Json(Stats {
        calls: state.calls.load(Ordering::Relaxed),
        accepted,
        unique_references: unique,
        duplicates: with_reference - unique,
        peak_in_flight: state.peak_in_flight.load(Ordering::SeqCst),
        connections: state.connections.load(Ordering::Relaxed),
    })
}

async fn get_knobs(State(state): State<Arc<MockState>>) -> Json<Knobs> {
    Json(state.knobs.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
}

async fn put_knobs(State(state): State<Arc<MockState>>, Json(knobs): Json<Knobs>) -> Response {
    if let Err(reason) = knobs.validate() {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({"error": reason})))
            .into_response();
    }
    *state.knobs.write().unwrap_or_else(std::sync::PoisonError::into_inner) = knobs.clone();
    Json(knobs).into_response()
}

async fn reset(State(state): State<Arc<MockState>>) -> StatusCode {
    state.calls.store(0, Ordering::Relaxed);
    state.connections.store(0, Ordering::Relaxed);
    state.peak_in_flight.store(state.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    lock(&state.received).clear();
    lock(&state.by_reference).clear();
    StatusCode::NO_CONTENT
}
