//! The embedded SQLite store: one file, WAL journal, full fsync on commit (an accepted
//! message survives power loss, not only a process crash).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{sqlite_reusable, StoreOptions, WriteProbe};
use crate::ports::{SingletonLease, Store, StoreResult};

pub(in crate::store) mod campaigns;
pub(in crate::store) mod customers;
pub(in crate::store) mod messages;
pub(in crate::store) mod outbox;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(in crate::store) pool: SqlitePool,
    write_probe: std::sync::Arc<WriteProbe>,
}

/// SQLite's page size (herald keeps the default), for turning a size limit into pages.
const PAGE_SIZE: u64 = 4096;

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, settings: &StoreOptions) -> StoreResult<Self> {
        let mut options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(mb) = settings.sqlite_max_size_mb {
            // Per connection, not stored in the file: every pooled connection sets it.
            options = options.pragma("max_page_count", (mb * 1024 * 1024 / PAGE_SIZE).to_string());
        }
        // SQLite has one writer at a time; a few connections let readers run beside it.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(|connection, _| Box::pin(sqlite_reusable(connection)))
            .connect_with(options)
            .await?;
        Ok(Self { pool, write_probe: Default::default() })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        crate::store::queries::sqlite::ping(&self.pool).await
    }

    async fn probe_writes(&self) -> StoreResult<()> {
        self.write_probe.check(crate::store::queries::sqlite::write_probe(&self.pool)).await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn try_singleton(&self, _name: &str) -> StoreResult<Option<Box<dyn SingletonLease>>> {
        // An SQLite database belongs to one process: its roles are always this process's.
        Ok(Some(Box::new(OneProcess)))
    }
}

struct OneProcess;

#[async_trait]
impl SingletonLease for OneProcess {
    async fn still_held(&mut self) -> bool {
        true
    }
}

fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}
