//! The PostgreSQL store: for several API and worker processes on one database.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnection, PgListener, PgPool, PgPoolOptions},
    Connection,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{reusable, WriteProbe};
use crate::ports::{SingletonLease, Store, StoreResult};

pub(in crate::store) mod campaigns;
pub(in crate::store) mod customers;
pub(in crate::store) mod messages;
pub(in crate::store) mod outbox;
mod rate_limits;

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(in crate::store) pool: PgPool,
    write_probe: Arc<WriteProbe>,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .after_release(|connection, _| Box::pin(async move { Ok(reusable(connection)) }))
            .connect(url)
            .await?;
        Ok(Self { pool, write_probe: Default::default() })
    }
}

/// A role held through an advisory lock on its own connection.
struct AdvisoryLock(PgConnection);

#[async_trait]
impl SingletonLease for AdvisoryLock {
    async fn still_held(&mut self) -> bool {
        sqlx::query("SELECT 1").execute(&mut self.0).await.is_ok()
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        crate::store::queries::postgres::ping(&self.pool).await
    }

    async fn probe_writes(&self) -> StoreResult<()> {
        self.write_probe.check(crate::store::queries::postgres::write_probe(&self.pool)).await
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn shared_rate_limits(&self) -> Option<Arc<dyn crate::ports::RateLimitStore>> {
        Some(Arc::new(self.clone()))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn try_singleton(&self, name: &str) -> StoreResult<Option<Box<dyn SingletonLease>>> {
        // A session-level advisory lock on a connection of its own, outside the pool: the
        // lock lives exactly as long as that connection, so a process that dies gives the
        // role up with its socket.
        let mut connection = PgConnection::connect_with(&self.pool.connect_options()).await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(name)
            .fetch_one(&mut connection)
            .await?;
        if taken {
            Ok(Some(Box::new(AdvisoryLock(connection))))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }

    async fn listen_for_work(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let listener = async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener.listen(WORK_CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = match listener.await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot LISTEN for new work; relying on polling for now");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            // Work committed before the LISTEN began signalled no one here: look once.
            wake.notify_one();
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    received = listener.recv() => match received {
                        Ok(_) => wake.notify_one(),
                        Err(error) => {
                            tracing::warn!(%error, "lost the LISTEN connection; reconnecting");
                            break;
                        }
                    },
                }
            }
        }
    }
}

/// The channel `NOTIFY`ed (on commit) whenever messages become due.
pub(super) const WORK_CHANNEL: &str = "herald_work";

/// Signals waiting workers in other processes, when `tx` commits.
pub(super) async fn notify_work(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(WORK_CHANNEL).execute(&mut **tx).await?;
    Ok(())
}
