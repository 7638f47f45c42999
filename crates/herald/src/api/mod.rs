//! The HTTP API: one axum router per resource, one error shape, one auth extractor.

use std::sync::Arc;

use crate::{
    config::Config,
    metrics::Metrics,
    ports::Store,
    services::{dead_letters::DeadLetters, intake::Intake},
};

pub mod auth;
pub mod campaigns;
pub mod customers;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod router;
pub mod schema;
pub mod sms;

pub use router::router;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub intake: Intake,
    pub dead_letters: DeadLetters,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// RabbitMQ connections of this process, for readiness.
    pub broker: Arc<crate::amqp::BrokerStatus>,
    /// Wakes this process's dispatcher when work was created (e.g. a campaign started).
    pub wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}
