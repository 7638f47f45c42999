//! What the probes and `/metrics` report: whether the database answers and takes writes,
//! whether this process's broker connections are up, and the store's gauges.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    metrics::{Metrics, StoreGauges},
    ports::{Store, StoreResult},
};

/// Whether this process's broker connections are up: `None` when it uses no broker. The
/// broker adapter supplies it, so this service never sees the adapter itself.
pub type BrokerHealth = Arc<dyn Fn() -> Option<bool> + Send + Sync>;

/// The database as readiness sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseState {
    Ok,
    /// It does not answer.
    Unreachable,
    /// It answers but cannot store (a full disk): intake answers 503 meanwhile.
    NotWritable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: DatabaseState,
    /// `None` without a broker.
    pub broker: Option<bool>,
}

/// The readiness and metrics view handlers get instead of the store and the broker.
#[derive(Clone)]
pub struct Health {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    broker: BrokerHealth,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl Health {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, broker: BrokerHealth) -> Self {
        Self { store, metrics, broker }
    }

    /// Checks that the database answers and takes writes, and reads the broker's state.
    pub async fn readiness(&self) -> Readiness {
        let broker = (self.broker)();
        let database = match self.store.ping().await {
            Err(error) => {
                tracing::warn!(%error, "readiness check: database unreachable");
                DatabaseState::Unreachable
            }
            Ok(()) => match self.store.probe_writes().await {
                Err(error) => {
                    tracing::warn!(%error, "readiness check: database does not take writes");
                    DatabaseState::NotWritable
                }
                Ok(()) => DatabaseState::Ok,
            },
        };
        Readiness { database, broker }
    }

    /// The metrics as OpenMetrics text, with the store's gauges read now.
    pub async fn render_metrics(&self) -> StoreResult<String> {
        let now = Utc::now();
        let age = |since: Option<DateTime<Utc>>| {
            since.map_or(std::time::Duration::ZERO, |at| (now - at).to_std().unwrap_or_default())
        };
        let queue = self.store.queue_stats(now).await?;
        let (outbox_waiting, outbox_oldest) = self.store.outbox_backlog().await?;
        Ok(self.metrics.render(StoreGauges {
            queue_depth: queue.pending,
            oldest_due_age: age(queue.oldest_due_at),
            outbox_waiting,
            outbox_oldest_age: age(outbox_oldest),
        }))
    }
}
