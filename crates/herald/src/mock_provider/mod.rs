//! `herald mock-provider`: a stand-alone fake provider over HTTP (herald's JSON shape, and
//! Firebase Cloud Messaging's), for demos, fault tests and benchmarks. It sends nothing. Knobs (changeable at run time with
//! `PUT /knobs`) make it slow, failing (500), throttling (429 with `Retry-After`), hanging
//! or dropping connections; every message it accepted is recorded, so duplicates and
//! send rates can be counted over HTTP.
//!
//! - `POST /messages` `{"to", "from", "body", "reference"}` -> `200 {"id", "status": "accepted"}`
//! - `GET /stats` -> calls, accepted, unique references, duplicates, TCP connections accepted
//! - `GET /messages` -> every accepted message with the time it arrived
//! - `GET /knobs`, `PUT /knobs` -> read or replace the knobs; `POST /reset` forgets the record
//!
//! With `--format twilio|africastalking|vonage|infobip` it speaks that provider's SMS API
//! instead, at the provider's own path, and checks what herald sent: see
//! [`sms_apis`].
//!
//! FCM HTTP v1, for a provider with `kind = "fcm"` whose `endpoint` and `token_uri` point here:
//! - `POST /token` (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`)
//!   -> `{"access_token", "expires_in": fcm_token_ttl_secs, "token_type": "Bearer"}`; the
//!   assertion must be an RS256 JWT with `iss`, `aud`, the FCM scope and an `exp` to come
//! - `POST /v1/projects/{project}/messages:send` with `Authorization: Bearer <token>` ->
//!   `{"name": "projects/{project}/messages/<id>"}`; an unknown token is a 401
//!   `UNAUTHENTICATED`; a device token starting with `unregistered` a 404 `UNREGISTERED`, with
//!   `invalid` a 400 `INVALID_ARGUMENT`; the knobs answer 503 `UNAVAILABLE` and 429
//!   `QUOTA_EXCEEDED` (with `Retry-After`) in FCM's error shape
//! - `POST /fcm/revoke` -> every access token issued so far is refused from now on

use std::{
    collections::{BTreeMap, HashMap, HashSet},
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

pub mod sms_apis;

/// The wire format the mock speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// herald's HTTP provider JSON (`POST /messages`) and FCM HTTP v1.
    #[default]
    Herald,
    Twilio,
    Africastalking,
    Vonage,
    Infobip,
}

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
    /// Lifetime of the FCM access tokens `POST /token` hands out, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub fcm_token_ttl_secs: u64,
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
            fcm_token_ttl_secs: 3600,
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
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    data: Option<BTreeMap<String, String>>,
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
    /// The channel the request named (herald's HTTP provider names it for push and email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// A push notification's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A push notification's data map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    /// The SMS APIs: who authenticated (the account SID, username or API key; never the
    /// secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The SMS APIs: where the provider was asked to send the delivery receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    /// Vonage: the `type` the text was sent as (`text` or `unicode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
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
    /// FCM access tokens handed out by `POST /token`.
    #[serde(default)]
    pub token_exchanges: u64,
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
    token_exchanges: AtomicU64,
    /// FCM access tokens issued and not revoked.
    access_tokens: Mutex<HashSet<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn router(knobs: Knobs) -> Router {
    routes(Arc::new(MockState { knobs: RwLock::new(knobs), ..MockState::default() }), Format::Herald)
}

fn routes(state: Arc<MockState>, format: Format) -> Router {
    let common = Router::new()
        .route("/stats", get(stats))
        .route("/knobs", get(get_knobs).put(put_knobs))
        .route("/reset", post(reset));
    let api = match format {
        Format::Herald => Router::new()
            .route("/messages", post(send).get(list))
            .route("/token", post(fcm_token))
            .route("/v1/projects/{project}/messages:send", post(fcm_send))
            .route("/fcm/revoke", post(fcm_revoke)),
        preset => sms_apis::routes(preset).route("/messages", get(list)),
    };
    api.merge(common).with_state(state)
}

/// Serves the mock (herald's format and FCM) on `listener` until `shutdown` fires.
pub async fn serve(listener: TcpListener, knobs: Knobs, shutdown: CancellationToken) -> std::io::Result<()> {
    serve_format(listener, knobs, Format::Herald, shutdown).await
}

/// Serves the mock speaking `format` on `listener` until `shutdown` fires.
pub async fn serve_format(
    listener: TcpListener,
    knobs: Knobs,
    format: Format,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let state = Arc::new(MockState { knobs: RwLock::new(knobs), ..MockState::default() });
    let counted = state.clone();
    let listener = listener.tap_io(move |_| {
        counted.connections.fetch_add(1, Ordering::Relaxed);
    });
    axum::serve(listener, routes(state, format))
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

/// The error bodies of one wire format.
#[derive(Clone, Copy)]
enum Shape {
    Herald,
    Fcm,
}

impl Shape {
    fn error(self, status: StatusCode, fcm_code: &str, message: &str) -> Json<serde_json::Value> {
        Json(match self {
            Self::Herald => serde_json::json!({ "error": message }),
            Self::Fcm => fcm_error(status, fcm_code, message),
        })
    }
}

/// An error in FCM HTTP v1's shape, with the FCM error code in `details`.
fn fcm_error(status: StatusCode, code: &str, message: &str) -> serde_json::Value {
    let grpc = match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        _ => "UNAVAILABLE",
    };
    serde_json::json!({"error": {"code": status.as_u16(), "message": message, "status": grpc, "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}})
}

/// A fault the knobs inject into a call.
enum Injected {
    /// The connection breaks mid-answer (already the whole response).
    Dropped(Response),
    /// Answer "too many requests", asking for `retry_after_secs`.
    Throttled { retry_after_secs: u64 },
    /// Answer a server failure.
    Failed,
}

/// Counts the call and applies the knobs: waits, then hangs, or picks the fault for the
/// share of calls they say; `None` lets the call through.
async fn inject(state: &MockState) -> Option<Injected> {
    let call = state.calls.fetch_add(1, Ordering::Relaxed);
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
        return Some(Injected::Dropped((StatusCode::OK, Body::from_stream(broken)).into_response()));
    }
    threshold += knobs.throttle_rate;
    if roll < threshold {
        return Some(Injected::Throttled { retry_after_secs: knobs.retry_after_secs });
    }
    threshold += knobs.failure_rate;
    if roll < threshold {
        return Some(Injected::Failed);
    }
    None
}

/// [`inject`], answered in herald's or FCM's shape.
async fn faults(state: &MockState, shape: Shape) -> Option<Response> {
    Some(match inject(state).await? {
        Injected::Dropped(response) => response,
        Injected::Throttled { retry_after_secs } => {
            let status = StatusCode::TOO_MANY_REQUESTS;
            let body = shape.error(status, "QUOTA_EXCEEDED", "rate limited");
            (status, [(RETRY_AFTER, retry_after_secs.to_string())], body).into_response()
        }
        Injected::Failed => match shape {
            Shape::Herald => (
                StatusCode::INTERNAL_SERVER_ERROR,
                shape.error(StatusCode::INTERNAL_SERVER_ERROR, "", "simulated failure"),
            ),
            Shape::Fcm => (
                StatusCode::SERVICE_UNAVAILABLE,
                shape.error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "simulated failure"),
            ),
        }
        .into_response(),
    })
}

fn record(state: &MockState, received: Received) {
    if let Some(reference) = &received.reference {
        *lock(&state.by_reference).entry(reference.clone()).or_insert(0) += 1;
    }
    lock(&state.received).push(received);
}

async fn send(State(state): State<Arc<MockState>>, Json(message): Json<SendIn>) -> Response {
    let _in_flight = InFlight::enter(&state);
    if let Some(fault) = faults(&state, Shape::Herald).await {
        return fault;
    }
    let id = format!("mp-{}", uuid::Uuid::now_v7().simple());
    record(
        &state,
        Received {
            id: id.clone(),
            reference: message.reference,
            to: message.to,
            from: message.from,
            body_chars: message.body.chars().count(),
            received_at: Utc::now(),
            channel: message.channel,
            title: message.title,
            data: message.data,
            account: None,
            status_callback: None,
            encoding: None,
        },
    );
    Json(serde_json::json!({"id": id, "status": "accepted"})).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

/// The claims of a service account's assertion, read without checking its signature (the
/// mock does not know the public key; herald's unit tests check the signature).
fn assertion_problem(assertion: &str) -> Option<&'static str> {
    use base64::Engine;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else { return Some("not a JWT") };
    let decode = |part: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()?;
        serde_json::from_slice::<serde_json::Value>(&bytes).ok()
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return Some("unreadable JWT");
    };
    if header["alg"] != "RS256" || signature.is_empty() {
        return Some("the assertion must be signed with RS256");
    }
    if !claims["scope"].as_str().is_some_and(|s| s.contains("firebase.messaging")) {
        return Some("the scope does not allow FCM sends");
    }
    if !claims["iss"].is_string() || !claims["aud"].is_string() {
        return Some("iss and aud are required");
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= Utc::now().timestamp()) {
        return Some("the assertion has expired");
    }
    None
}

async fn fcm_token(
    State(state): State<Arc<MockState>>,
    axum::Form(request): axum::Form<TokenRequest>,
) -> Response {
    let problem = if request.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        assertion_problem(&request.assertion)
    } else {
        Some("unsupported grant_type")
    };
    if let Some(problem) = problem {
        let body = Json(serde_json::json!({"error": "invalid_grant", "error_description": problem}));
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    state.token_exchanges.fetch_add(1, Ordering::Relaxed);
    let token = format!("mock-access-{}", uuid::Uuid::now_v7().simple());
    lock(&state.access_tokens).insert(token.clone());
    let ttl = state.knobs.read().unwrap_or_else(std::sync::PoisonError::into_inner).fcm_token_ttl_secs;
    Json(serde_json::json!({"access_token": token, "expires_in": ttl, "token_type": "Bearer"}))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct FcmSend {
    message: FcmMessage,
}

#[derive(Debug, Deserialize)]
struct FcmMessage {
    token: String,
    #[serde(default)]
    notification: Option<FcmNotification>,
    #[serde(default)]
    data: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct FcmNotification {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

async fn fcm_send(
    State(state): State<Arc<MockState>>,
    axum::extract::Path(project): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    Json(send): Json<FcmSend>,
) -> Response {
    let _in_flight = InFlight::enter(&state);
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|token| lock(&state.access_tokens).contains(token)) {
        state.calls.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::UNAUTHORIZED;
        let body =
            fcm_error(status, "THIRD_PARTY_AUTH_ERROR", "Request had invalid authentication credentials.");
        return (status, Json(body)).into_response();
    }
    if let Some(fault) = faults(&state, Shape::Fcm).await {
        return fault;
    }
    let device = send.message.token;
    if device.starts_with("unregistered") {
        let status = StatusCode::NOT_FOUND;
        return (status, Json(fcm_error(status, "UNREGISTERED", "Requested entity was not found.")))
            .into_response();
    }
    if device.starts_with("invalid") {
        let status = StatusCode::BAD_REQUEST;
        let body = fcm_error(
            status,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        );
        return (status, Json(body)).into_response();
    }
    let id = uuid::Uuid::now_v7().simple().to_string();
    let notification = send.message.notification.unwrap_or_default();
    record(
        &state,
        Received {
            id: id.clone(),
            reference: None,
            to: device,
            from: None,
            body_chars: notification.body.as_deref().map_or(0, |b| b.chars().count()),
            received_at: Utc::now(),
            channel: Some("push".into()),
            title: notification.title,
            data: send.message.data,
            account: None,
            status_callback: None,
            encoding: None,
        },
    );
    Json(serde_json::json!({"name": format!("projects/{project}/messages/{id}")})).into_response()
}

async fn fcm_revoke(State(state): State<Arc<MockState>>) -> StatusCode {
    lock(&state.access_tokens).clear();
    StatusCode::NO_CONTENT
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
        token_exchanges: state.token_exchanges.load(Ordering::Relaxed),
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
    state.token_exchanges.store(0, Ordering::Relaxed);
    state.peak_in_flight.store(state.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    lock(&state.received).clear();
    lock(&state.by_reference).clear();
    StatusCode::NO_CONTENT
}
