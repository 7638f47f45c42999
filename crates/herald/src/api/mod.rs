//! The HTTP API: one axum router per resource, one error shape, one auth extractor.

use std::sync::Arc;

use crate::{
    config::Config,
    services::{
        api_keys::Authenticator, campaigns::Campaigns, compose::Composer, customers::Customers,
        dead_letters::DeadLetters, events::EventFeed, health::Health, intake::Intake, messages::Messages,
        overview::Overview, receipts::Receipts, templates::Templates, users::Users,
    },
};

pub mod api_keys;
pub mod auth;
pub mod campaigns;
pub mod customers;
pub mod dashboard;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod overview;
pub mod preferences;
pub mod rate_limit;
pub mod router;
pub mod schema;
pub mod session;
pub mod sms;
pub mod templates;
pub mod users;
pub mod webhooks;

pub use router::{router, routes};

/// What every handler can reach: the services, and the readiness view; never the store
/// or the broker themselves.
#[derive(Clone)]
pub struct AppState {
    pub auth: Authenticator,
    /// Every API key's request rate limit, for this process.
    pub rate_limits: rate_limit::ApiRateLimits,
    pub intake: Intake,
    pub messages: Messages,
    /// The dashboard's overview (with this process's breakers when it runs workers).
    pub overview: Overview,
    pub dead_letters: DeadLetters,
    pub events: EventFeed,
    pub campaigns: Campaigns,
    pub customers: Customers,
    pub users: Users,
    pub templates: Templates,
    /// Sends by template: resolution, rendering, preferences.
    pub composer: Composer,
    /// Delivery receipts from providers.
    pub receipts: Receipts,
    /// Readiness and metrics.
    pub health: Health,
    pub config: Arc<Config>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("health", &self.health).finish_non_exhaustive()
    }
}
