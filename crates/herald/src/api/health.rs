//! Health probes, all public: `/health` (sms-processor), `/health/live`, `/health/ready`
//! (checks that the database answers and takes writes, and RabbitMQ when configured),
//! `/health/startup`.

use axum::{extract::State, http::StatusCode, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::services::health::DatabaseState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(startup))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`; `degraded` when the broker is unreachable (herald still accepts and sends);
    /// `unavailable` when the database is.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Per-dependency results (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// `ok`; `unreachable` when it does not answer; `not writable` when it answers but
    /// cannot store (a full disk): intake answers 503 meanwhile.
    #[schema(example = "ok")]
    pub database: String,
    /// RabbitMQ, when configured: `ok`, or `unreachable` while herald reconnects (intake
    /// over HTTP goes on; events wait in the outbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ok")]
    pub broker: Option<String>,
}

fn ok() -> Json<HealthOut> {
    Json(HealthOut { status: "ok", checks: None })
}

/// Public health check (sms-processor contract).
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn health() -> Json<HealthOut> {
    ok()
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn live() -> Json<HealthOut> {
    ok()
}

/// Startup: migrations ran and the server is up (it only listens after both).
#[utoipa::path(get, path = "/health/startup", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn startup() -> Json<HealthOut> {
    ok()
}

/// Readiness: the database answers and takes writes.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut))
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    let readiness = state.health.readiness().await;
    let broker = readiness.broker.map(|up| if up { "ok" } else { "unreachable" }.to_owned());
    let database = match readiness.database {
        DatabaseState::Ok => "ok",
        DatabaseState::Unreachable => "unreachable",
        DatabaseState::NotWritable => "not writable",
    };
    let checks = Checks { database: database.into(), broker };
    if readiness.database != DatabaseState::Ok {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthOut { status: "unavailable", checks: Some(checks) }),
        );
    }
    let status = if checks.broker.as_deref() == Some("unreachable") { "degraded" } else { "ok" };
    (StatusCode::OK, Json(HealthOut { status, checks: Some(checks) }))
}
