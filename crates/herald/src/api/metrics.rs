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
use crate::metrics::StoreGauges;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let now = Utc::now();
    let age = |since: Option<chrono::DateTime<Utc>>| {
        since.map_or(std::time::Duration::ZERO, |at| (now - at).to_std().unwrap_or_default())
    };
    let queue = state.store.queue_stats(now).await?;
    let (outbox_waiting, outbox_oldest) = state.store.outbox_backlog().await?;
    let body = state.metrics.render(StoreGauges {
        queue_depth: queue.pending,
        oldest_due_age: age(queue.oldest_due_at),
        outbox_waiting,
        outbox_oldest_age: age(outbox_oldest),
    });
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response())
}
