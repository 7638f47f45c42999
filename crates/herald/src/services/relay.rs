//! The outbox relay: events committed to the outbox go to an [`EventPublisher`], oldest
//! first, and are marked published only once the publisher confirmed them.
//!
//! One process relays at a time (the store singleton [`ROLE`]; on PostgreSQL an advisory
//! lock), so events leave in the order they were written. Delivery is at least once: a
//! crash between the confirm and the mark publishes an event again, with the same
//! `event_id` for consumers to deduplicate on.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::{
    metrics::Metrics,
    ports::{EventPublisher, PublishError, SingletonLease, Stopped, Store, StoreError},
};

/// The role name: one relay per database.
pub const ROLE: &str = "herald.outbox_relay";
/// How often a process that does not hold the role checks whether it is free.
const ROLE_RETRY: Duration = Duration::from_secs(2);
/// How often the holder checks it still holds the role.
const LEASE_CHECK: Duration = Duration::from_secs(1);
/// Pause after the publisher found no one for an event.
const UNROUTED_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("reading or marking the outbox: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the publisher refused event {0}")]
    Refused(herald_domain::EventId),
}

/// How a round of publishing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Everything read was published; `full` means more may be waiting.
    Done { full: bool },
    /// The publisher found no one for an event: it stays in the outbox.
    Unrouted,
}

/// Why [`OutboxRelay::relay`] returned without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// At shutdown, after a last flush.
    Shutdown,
    /// The role was lost (the connection holding it closed).
    RoleLost,
}

pub struct OutboxRelay {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    /// Most events read and published per round.
    pub batch_size: u32,
    /// How long to wait for new events once the outbox is empty.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay").field("batch_size", &self.batch_size).finish_non_exhaustive()
    }
}

impl OutboxRelay {
    /// Waits until this process holds the relay role; `None` at shutdown.
    pub async fn take_role(&self, shutdown: &CancellationToken) -> Option<Box<dyn SingletonLease>> {
        while !shutdown.is_cancelled() {
            match self.store.try_singleton(ROLE).await {
                Ok(Some(lease)) => {
                    tracing::info!("this process relays the outbox");
                    return Some(lease);
                }
                Ok(None) => tracing::debug!("another process relays the outbox"),
                Err(error) => tracing::warn!(%error, "cannot take the relay role"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(ROLE_RETRY) => {}
            }
        }
        None
    }

    /// Relays through `publisher` while `lease` holds the role, until `shutdown` (which
    /// should come after the dispatcher stopped: its last events are flushed then). An
    /// error means the publisher (or the database) failed: reconnect and call again.
    pub async fn relay(
        &self,
        publisher: &mut dyn EventPublisher,
        lease: &mut dyn SingletonLease,
        shutdown: &CancellationToken,
    ) -> Result<Ended, RelayError> {
        let mut next_lease_check = tokio::time::Instant::now() + LEASE_CHECK;
        loop {
            if shutdown.is_cancelled() {
                while let Round::Done { full: true } = self.round(publisher).await? {}
                return Ok(Ended::Shutdown);
            }
            if tokio::time::Instant::now() >= next_lease_check {
                if !lease.still_held().await {
                    tracing::warn!("lost the relay role (its database connection closed)");
                    return Ok(Ended::RoleLost);
                }
                next_lease_check = tokio::time::Instant::now() + LEASE_CHECK;
            }
            let pause = match self.round(publisher).await? {
                Round::Done { full: true } => continue,
                Round::Done { full: false } => self.poll_interval,
                Round::Unrouted => UNROUTED_PAUSE,
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Publishes one batch of unpublished events and marks the confirmed ones: only a
    /// prefix, so an event after one that was not confirmed is published again later
    /// rather than overtaking it for good. A publisher error marks nothing.
    pub async fn round(&self, publisher: &mut dyn EventPublisher) -> Result<Round, RelayError> {
        let events = self.store.unpublished_events(self.batch_size).await?;
        if events.is_empty() {
            return Ok(Round::Done { full: false });
        }
        let full = events.len() == self.batch_size as usize;
        let publication = publisher.publish(&events).await?;
        let confirmed: Vec<i64> =
            events.iter().take(publication.confirmed).map(|event| event.sequence).collect();
        if !confirmed.is_empty() {
            self.store.mark_events_published(&confirmed, Utc::now()).await?;
            self.metrics.events_published(confirmed.len() as u64);
        }
        let stopped_at = events.get(publication.confirmed);
        match (publication.stopped, stopped_at) {
            (None, _) | (Some(_), None) => Ok(Round::Done { full }),
            (Some(Stopped::Unrouted), Some(event)) => {
                self.metrics.event_unrouted();
                tracing::warn!(
                    event_id = %event.event.event_id,
                    event_type = %event.event.event_type,
                    "the broker returned an unroutable event; it stays in the outbox"
                );
                Ok(Round::Unrouted)
            }
            (Some(Stopped::Refused), Some(event)) => Err(RelayError::Refused(event.event.event_id)),
        }
    }
}
