//! The embedded SQLite store: one file, WAL journal, full fsync on commit (an accepted
//! message survives power loss, not only a process crash).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::ports::{SingletonLease, Store, StoreError, StoreResult};

mod accounts;
mod campaigns;
mod idempotency;
mod messages;
mod outbox;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // SQLite has one writer at a time; a few connections let readers run beside it.
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
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

fn from_millis(millis: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {millis}")))
}

fn from_opt_millis(millis: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    millis.map(from_millis).transpose()
}
