//! `/api/v1/overview`: the dashboard's first page. What the account's messages did over the
//! last few minutes, the dispatch queue, its dead letters, and the providers' breakers.

use std::time::Duration;

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use herald_domain::{breaker::BreakerState, Channel};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{auth::Authenticated, error::ApiResult, schema, AppState};
use crate::services::overview::{ProviderState, Snapshot};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

/// The window `accepted`, `sent` and `failed` count over.
const WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewOut {
    /// When these numbers were read.
    pub generated_at: DateTime<Utc>,
    /// The window `accepted`, `sent` and `failed` count over, ending at `generated_at`.
    #[schema(example = 300)]
    pub window_seconds: u64,
    /// Notifications this account sent herald in the window (whatever became of them).
    #[schema(example = 120)]
    pub accepted: u64,
    /// Notifications of this account a provider accepted in the window (whether they were
    /// delivered, read or undelivered since).
    #[schema(example = 110)]
    pub sent: u64,
    /// Notifications of this account that failed in the window and are dead letters now
    /// (a replayed one is back in the queue and no longer counts).
    #[schema(example = 3)]
    pub failed: u64,
    /// `accepted`, `sent` and `failed` per minute over the window.
    pub per_minute: PerMinute,
    pub queue: QueueOut,
    /// This account's dead letters now: failed notifications not replayed.
    #[schema(example = 2)]
    pub dead_letters: u64,
    /// Each provider once per channel it serves, with its circuit breaker as this process
    /// sees it; empty when `providers_known` is false.
    pub providers: Vec<ProviderOut>,
    /// False when this process runs no workers (`herald api`): it calls no provider, so
    /// it cannot know their breakers.
    pub providers_known: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PerMinute {
    #[schema(example = 24.0)]
    pub accepted: f64,
    #[schema(example = 22.0)]
    pub sent: f64,
    #[schema(example = 0.6)]
    pub failed: f64,
}

/// The dispatch queue, shared by every account: what the workers have in front of them
/// (the `herald_queue_depth` metric).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    /// Notifications waiting: `pending` (due now or retrying later) and `scheduled`.
    #[schema(example = 7)]
    pub depth: u64,
    /// The earliest due time that has passed, of a notification still waiting; null when
    /// none is overdue.
    #[schema(required = true)]
    pub oldest_waiting_at: Option<DateTime<Utc>>,
    /// How long that notification has been due, in seconds; null when none is overdue.
    #[schema(example = 1.5, minimum = 0, required = true)]
    pub oldest_waiting_age_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    /// The provider's name in `[[providers]]` (and in `provider` fields and metrics).
    #[schema(example = "mock")]
    pub name: String,
    #[schema(schema_with = schema::channel)]
    pub channel: Channel,
    /// `closed`: calls go through (also for a provider without a breaker); `open`: the
    /// provider failed too often and gets no calls until its wait is over (its messages
    /// wait, or go to the route's next provider); `half_open`: the wait is over and a few
    /// trial calls decide.
    pub breaker: Breaker,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    Closed,
    HalfOpen,
    Open,
}

impl From<BreakerState> for Breaker {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => Self::Closed,
            BreakerState::HalfOpen { .. } => Self::HalfOpen,
            BreakerState::Open { .. } => Self::Open,
        }
    }
}

impl From<ProviderState> for ProviderOut {
    fn from(state: ProviderState) -> Self {
        Self { name: state.name, channel: state.channel, breaker: state.breaker.into() }
    }
}

impl From<Snapshot> for OverviewOut {
    fn from(snapshot: Snapshot) -> Self {
        let minutes = snapshot.window.as_secs_f64() / 60.0;
        let activity = snapshot.activity;
        let oldest = snapshot.queue.oldest_due_at;
        let age = oldest.map(|at| (snapshot.generated_at - at).num_microseconds().unwrap_or(i64::MAX).max(0));
        Self {
            generated_at: snapshot.generated_at,
            window_seconds: snapshot.window.as_secs(),
            accepted: activity.accepted,
            sent: activity.sent,
            failed: activity.failed,
            per_minute: PerMinute {
                accepted: activity.accepted as f64 / minutes,
                sent: activity.sent as f64 / minutes,
                failed: activity.failed as f64 / minutes,
            },
            queue: QueueOut {
                depth: snapshot.queue.pending,
                oldest_waiting_at: oldest,
                oldest_waiting_age_seconds: age.map(|micros| micros as f64 / 1e6),
            },
            dead_letters: activity.dead_letters,
            providers_known: snapshot.providers.is_some(),
            providers: snapshot.providers.unwrap_or_default().into_iter().map(ProviderOut::from).collect(),
        }
    }
}

/// What the account's notifications did over the last five minutes, the queue, its dead
/// letters and the providers' breakers.
///
/// The counts are read from the database, so every process's work is in them whichever
/// process answers. Breakers are known only to a process that runs workers (`herald serve`):
/// from `herald api` alone, `providers_known` is false and `providers` empty.
#[utoipa::path(
    get,
    path = "/api/v1/overview",
    tag = "overview",
    responses(
        (status = 200, body = OverviewOut, example = json!({
            "generated_at": "2026-12-05T10:05:00.123456Z",
            "window_seconds": 300,
            "accepted": 120, "sent": 110, "failed": 3,
            "per_minute": {"accepted": 24.0, "sent": 22.0, "failed": 0.6},
            "queue": {"depth": 7, "oldest_waiting_at": "2026-12-05T10:04:58.623456Z", "oldest_waiting_age_seconds": 1.5},
            "dead_letters": 2,
            "providers": [{"name": "mock", "channel": "sms", "breaker": "closed"}],
            "providers_known": true
        })),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn overview(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<OverviewOut>> {
    let snapshot = state.overview.snapshot(auth.account_id, WINDOW).await?;
    Ok(Json(snapshot.into()))
}
