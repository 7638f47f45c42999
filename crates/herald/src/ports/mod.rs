//! The ports services depend on, one file per aggregate plus the provider. Adapters
//! (SQLite, PostgreSQL, providers) implement them; `app.rs` picks which.

mod api_keys;
mod campaigns;
mod commands;
mod customers;
mod events;
mod idempotency;
mod legacy_imports;
mod messages;
mod outbox;
mod provider;
mod rate_limits;
mod templates;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use api_keys::AccountStore;
pub use campaigns::CampaignStore;
pub use commands::{CommandDelivery, CommandSource, CommandSourceError, Settle};
pub use customers::CustomerStore;
pub use events::{EventPublisher, Publication, PublishError, Stopped};
pub use idempotency::IdempotencyStore;
pub use legacy_imports::LegacyImportStore;
pub use messages::{MessageStore, ReceiptEventBuilder};
pub use outbox::OutboxStore;
pub use provider::{Outbound, Provider, ProviderError, ProviderReceipt};
pub use rate_limits::{RateLimitStore, SendSlots};
pub use templates::TemplateStore;
pub use users::UserStore;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database refused a write probe (a recent one; its error as text).
    #[error("the database does not take writes: {0}")]
    NotWritable(String),
}

impl StoreError {
    /// Whether the database cannot take writes (or be reached) right now: a full disk, an
    /// I/O error, a lost connection, a lock that did not come free. Such a failure says
    /// nothing about the request; the same request may succeed later, so the API answers
    /// 503 instead of 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(error) => crate::store::is_unavailable(error),
            Self::NotWritable(_) => true,
            Self::Migration(_) | Self::Corrupt(_) => false,
        }
    }
}

/// A process-wide role held by one process at a time (e.g. the outbox relay, so events
/// leave in order). Dropping it gives the role up.
#[async_trait]
pub trait SingletonLease: Send {
    /// Whether the role is still held (the connection that holds it is alive).
    async fn still_held(&mut self) -> bool;
}

/// Everything herald keeps, behind one handle.
#[async_trait]
pub trait Store:
    AccountStore
    + MessageStore
    + OutboxStore
    + IdempotencyStore
    + CampaignStore
    + CustomerStore
    + UserStore
    + TemplateStore
    + LegacyImportStore
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
    /// Commits a small write and removes it again, for readiness: fails while the database
    /// cannot store a message (a full disk, a read-only file system). Runs at most once a
    /// second; calls in between get the last answer.
    async fn probe_writes(&self) -> StoreResult<()>;
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Wakes `wake` whenever another process makes work due (new or replayed messages),
    /// until `shutdown`. Backends without cross-process signals return at once: workers
    /// then rely on in-process wake-ups and the poll interval.
    async fn listen_for_work(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let _ = (wake, shutdown);
    }
    async fn close(&self);
    /// Provider rate limits shared by every process on this database, where the backend
    /// has them (PostgreSQL); `None`: each process keeps to the rates on its own (SQLite
    /// has one process).
    fn shared_rate_limits(&self) -> Option<Arc<dyn RateLimitStore>> {
        None
    }
    /// Takes the role `name` if no other process holds it; `None` if one does.
    async fn try_singleton(&self, name: &str) -> StoreResult<Option<Box<dyn SingletonLease>>>;
}
