//! Storage adapters. Both implement [`crate::ports::Store`] and pass the same contract
//! test suite; which one runs is chosen by the database URL's scheme.

use std::sync::Arc;

use crate::ports::{Store, StoreResult};

mod batch;
mod legacy_imports;
pub mod postgres;
mod queries;
mod rows;
mod sql;
pub mod sqlite;

/// Connects to the database named by `url` (`sqlite://...` or `postgres://...`). Does not
/// migrate; call [`Store::migrate`].
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    connect_with(url, &StoreOptions::default()).await
}

/// Settings a store takes besides its URL.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// SQLite only: the most the database file may grow to, in MiB (`PRAGMA
    /// max_page_count`); past it writes fail as on a full disk. None: no limit.
    pub sqlite_max_size_mb: Option<u64>,
}

/// [`connect`] with options.
pub async fn connect_with(url: &str, options: &StoreOptions) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect_with(url, options).await?))
    } else {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    }
}

/// Whether a connection coming back to its pool may be used again. A transaction whose
/// COMMIT or ROLLBACK failed leaves sqlx believing the connection is still inside it (SQLite
/// may already have rolled it back by itself, e.g. on a full disk); the next "transaction"
/// on that connection would then be a savepoint of a transaction nobody commits. Such a
/// connection is closed, never reused.
fn reusable<C: sqlx::Connection>(connection: &C) -> bool {
    if connection.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction");
        return false;
    }
    true
}

/// [`reusable`] for SQLite, whose dropped transaction only queues its rollback for the
/// connection's worker thread (which updates the depth once it ran): a ping, which queues
/// behind it, lets the check see the outcome. (PostgreSQL updates the depth when it queues
/// the rollback, and sqlx's own ping after this check sends it.)
async fn sqlite_reusable(connection: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    connection.ping().await?;
    Ok(reusable(connection))
}

/// Readiness probes write to the database at most this often; callers in between get the
/// last answer.
const WRITE_PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What a write probe stores: 64 KiB of random bytes (incompressible), so that a probe
/// succeeds only while the database has room for a burst of messages, not just a row.
fn write_probe_pad() -> Vec<u8> {
    use rand::RngCore;
    let mut pad = vec![0; 64 * 1024];
    rand::thread_rng().fill_bytes(&mut pad);
    pad
}

/// The last write probe's answer, shared by concurrent readiness checks.
#[derive(Debug, Default)]
struct WriteProbe {
    last: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
}

impl WriteProbe {
    /// Runs `probe` unless one ran less than [`WRITE_PROBE_EVERY`] ago.
    async fn check<F>(&self, probe: F) -> StoreResult<()>
    where
        F: std::future::Future<Output = StoreResult<()>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = last.as_ref() {
            if at.elapsed() < WRITE_PROBE_EVERY {
                return result.clone().map_err(crate::ports::StoreError::NotWritable);
            }
        }
        let result = probe.await;
        *last = Some((std::time::Instant::now(), result.as_ref().map(|_| ()).map_err(ToString::to_string)));
        result
    }
}

/// Whether `error` means the database cannot be written or reached right now (see
/// [`crate::ports::StoreError::is_unavailable`]), as opposed to a problem with the request
/// or a bug.
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            if let Some(error) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // SQLSTATE classes: connection exception, insufficient resources (a full
                // disk), operator intervention (a terminated backend, a shutdown), system
                // error; and serialization failures and deadlocks, which a retry resolves.
                let code = error.code();
                ["08", "53", "57", "58", "40"].iter().any(|class| code.starts_with(class)) || code == "25P03"
            } else {
                // SQLite: the primary result code is the low byte of the extended one.
                // BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
                let code = error.code().and_then(|code| code.parse::<i32>().ok()).unwrap_or_default();
                matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15)
            }
        }
        _ => false,
    }
}

/// Text columns hold enum names; a value that does not parse means the row is corrupt.
fn parse_column<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value.parse().map_err(|_| crate::ports::StoreError::Corrupt(format!("{column} = {value:?}")))
}

const DEFAULT_ACCOUNT_NAME: &str = "default";

/// The end of every idempotency key claim (one key or a batch, both backends): a key that
/// exists is taken over only once it expired by the claim's time, or when it was left in
/// flight since before the cut-off `stale` (a placeholder) by a request that died.
fn take_over_stale_key(stale: &str) -> String {
    format!(
        "ON CONFLICT (account_id, idempotency_key) DO UPDATE
            SET fingerprint = excluded.fingerprint, state = 'in_flight',
                response_status = NULL, response_body = NULL, message_id = NULL,
                locked_at = excluded.locked_at, created_at = excluded.created_at,
                expires_at = excluded.expires_at
            WHERE idempotency_keys.expires_at <= excluded.locked_at
               OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_at < {stale})"
    )
}

fn counts_from_rows(rows: Vec<(String, i64)>) -> crate::model::StatusCounts {
    let mut counts = crate::model::StatusCounts::default();
    for (status, n) in rows {
        let n = n as u64;
        match status.as_str() {
            "pending" => counts.pending += n,
            "sending" => counts.sending += n,
            // A receipt comes after the provider accepted the message: still sent, for
            // campaign stats and status counts alike.
            "sent" | "delivered" | "read" | "undelivered" => counts.sent += n,
            "failed" => counts.failed += n,
            _ => counts.other += n,
        }
    }
    counts
}

fn campaign_stats_from_rows(rows: Vec<(String, i64)>) -> crate::model::CampaignStats {
    let counts = counts_from_rows(rows);
    crate::model::CampaignStats {
        total: counts.total(),
        pending: counts.pending,
        sending: counts.sending,
        sent: counts.sent,
        failed: counts.failed,
    }
}

/// What one attempt outcome does to its message row, in the same terms for every backend.
struct OutcomeEffect<'a> {
    status: herald_domain::MessageStatus,
    kind: crate::model::MessageEventKind,
    detail: String,
    provider: &'a str,
    provider_message_id: Option<&'a str>,
    last_error: Option<&'a str>,
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    retry_increment: i32,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The outbox events the outcome publishes.
    events: &'a [crate::model::OutboxEvent],
}

impl<'a> OutcomeEffect<'a> {
    fn of(outcome: &'a crate::model::AttemptOutcome) -> Self {
        use crate::model::{AttemptResult, MessageEventKind};
        use herald_domain::MessageStatus;
        match &outcome.result {
            AttemptResult::Sent { provider, provider_message_id, events } => Self {
                status: MessageStatus::Sent,
                kind: MessageEventKind::AttemptSucceeded,
                detail: format!("accepted by {provider}"),
                provider,
                provider_message_id: provider_message_id.as_deref(),
                last_error: None,
                next_attempt_at: None,
                retry_increment: 0,
                sent_at: Some(outcome.at),
                events,
            },
            AttemptResult::RetryScheduled { provider, error, next_attempt_at } => Self {
                status: MessageStatus::Pending,
                kind: MessageEventKind::AttemptFailed,
                detail: format!("{provider}: {error}; retry at {}", next_attempt_at.to_rfc3339()),
                provider,
                provider_message_id: None,
                last_error: Some(error),
                next_attempt_at: Some(*next_attempt_at),
                retry_increment: 1,
                sent_at: None,
                events: &[],
            },
            AttemptResult::Deferred { provider, reason, until } => Self {
                status: MessageStatus::Pending,
                kind: MessageEventKind::Deferred,
                detail: format!("{provider}: {reason}; waiting until {}", until.to_rfc3339()),
                provider,
                provider_message_id: None,
                last_error: Some(reason),
                next_attempt_at: Some(*until),
                retry_increment: 0,
                sent_at: None,
                events: &[],
            },
            AttemptResult::Failed { provider, error, event } => Self {
                status: MessageStatus::Failed,
                kind: MessageEventKind::AttemptFailed,
                detail: format!("{provider}: {error}"),
                provider,
                provider_message_id: None,
                last_error: Some(error),
                next_attempt_at: None,
                retry_increment: 0,
                sent_at: None,
                events: std::slice::from_ref(event),
            },
        }
    }
}

/// The `notification.failed` events of messages a lease sweep failed, with their accounts.
fn lease_failure_events(
    failed: &[crate::model::Message],
    sweep: &crate::model::LeaseSweep<'_>,
) -> Vec<(herald_domain::AccountId, crate::model::OutboxEvent)> {
    failed
        .iter()
        .map(|message| {
            let error = message.last_error.as_deref().unwrap_or_default();
            let claimed = crate::model::ClaimedMessage::from(message.clone());
            (message.account_id, (sweep.failed_event)(&claimed, error, sweep.now))
        })
        .collect()
}

/// A lease sweep's counts, and the campaigns its failed messages belong to.
fn swept(
    uncounted: usize,
    retried: &[crate::model::Message],
    failed: &[crate::model::Message],
) -> crate::model::SweptLeases {
    let mut campaigns: Vec<herald_domain::CampaignId> =
        failed.iter().filter_map(|m| m.campaign.map(|c| c.campaign_id)).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    crate::model::SweptLeases {
        retried: retried.len() as u64,
        requeued: uncounted as u64,
        failed: failed.len() as u64,
        campaigns,
    }
}
