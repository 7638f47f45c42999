//! `GET /metrics`: Prometheus metrics (OpenMetrics text), public like the probes.

use axum::{
    extract::State,
    http::header::CONTENT_TYPE,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use chrono::Utc;

use super::{error::ApiResult, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let now = Utc::now();
    let queue = state.store.queue_stats(now).await?;
    let oldest_due_age =
        queue.oldest_due_at.map_or(std::time::Duration::ZERO, |due| (now - due).to_std().unwrap_or_default());
    let body = state.metrics.render(queue.pending, oldest_due_age);
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response())
}
