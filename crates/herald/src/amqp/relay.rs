//! The outbox relay: events committed to the outbox are published to the events exchange,
//! oldest first, and marked published only once the broker confirmed them.
//!
//! One process relays at a time (a store singleton; on PostgreSQL an advisory lock), so
//! events leave in the order they were written. Delivery is at least once: a crash between
//! the confirm and the mark publishes an event again, with the same `message_id`
//! (= `event_id`) for consumers to deduplicate on.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use chrono::Utc;
use lapin::{
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
    BasicProperties, Channel,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{connect, connected, supervise, BrokerStatus, Topology};
use crate::{
    metrics::Metrics,
    model::StoredEvent,
    ports::{SingletonLease, Store},
};

const COMPONENT: &str = "relay";
/// The role name: one relay per database.
const ROLE: &str = "herald.outbox_relay";
/// How often a process that does not hold the role checks whether it is free.
const ROLE_RETRY: Duration = Duration::from_secs(2);
/// How often the holder checks it still holds the role.
const LEASE_CHECK: Duration = Duration::from_secs(1);
/// Pause after the broker returned an event as unroutable.
const UNROUTED_PAUSE: Duration = Duration::from_secs(1);

pub struct Relay {
    pub url: String,
    pub topology: Topology,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub status: Arc<BrokerStatus>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("exchange", &self.topology.config().events_exchange)
            .finish_non_exhaustive()
    }
}

/// How a round of publishing ended.
enum Round {
    /// Everything read was published; `full` means more may be waiting.
    Done { full: bool },
    /// The broker returned an event as unroutable: it stays in the outbox.
    Unrouted,
}

impl Relay {
    /// Relays until `shutdown` (which should come after the dispatcher stopped, so its last
    /// events are flushed), whenever this process holds the relay role.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        while !shutdown.is_cancelled() {
            match this.store.try_singleton(ROLE).await {
                Ok(Some(lease)) => {
                    tracing::info!("this process relays the outbox");
                    this.relay_while_held(Arc::new(Mutex::new(lease)), &shutdown).await;
                }
                Ok(None) => tracing::debug!("another process relays the outbox"),
                Err(error) => tracing::warn!(%error, "cannot take the relay role"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(ROLE_RETRY) => {}
            }
        }
    }

    async fn relay_while_held(
        self: &Arc<Self>,
        lease: Arc<Mutex<Box<dyn SingletonLease>>>,
        shutdown: &CancellationToken,
    ) {
        let max_backoff = Duration::from_millis(self.topology.config().reconnect_max_ms);
        supervise(
            COMPONENT,
            self.status.clone(),
            self.metrics.clone(),
            max_backoff,
            shutdown.clone(),
            || {
                let (this, lease, shutdown) = (self.clone(), lease.clone(), shutdown.clone());
                async move { this.session(&lease, &shutdown).await }
            },
        )
        .await;
        self.status.remove(COMPONENT);
    }

    /// One connection's life. Returns `Ok` at shutdown (after a last flush) or when the
    /// role was lost; an error means the broker (or the database) failed.
    async fn session(
        &self,
        lease: &Mutex<Box<dyn SingletonLease>>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let config = self.topology.config();
        let connection = connect(&self.url, &format!("herald relay {}", config.events_exchange)).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        self.topology.declare_events(&channel).await?;
        connected(COMPONENT, &self.status, &self.metrics);
        let poll = Duration::from_millis(config.relay_poll_interval_ms);
        let mut next_lease_check = tokio::time::Instant::now() + LEASE_CHECK;
        loop {
            if shutdown.is_cancelled() {
                // Flush what the dispatcher wrote last, then stop.
                while let Round::Done { full: true } = self.round(&channel).await? {}
                let _ = connection.close(200, "herald is shutting down").await;
                return Ok(());
            }
            if tokio::time::Instant::now() >= next_lease_check {
                if !lease.lock().await.still_held().await {
                    tracing::warn!("lost the relay role (its database connection closed)");
                    let _ = connection.close(200, "relay role lost").await;
                    return Ok(());
                }
                next_lease_check = tokio::time::Instant::now() + LEASE_CHECK;
            }
            let pause = match self.round(&channel).await? {
                Round::Done { full: true } => continue,
                Round::Done { full: false } => poll,
                Round::Unrouted => UNROUTED_PAUSE,
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Publishes one batch of unpublished events and marks the confirmed ones.
    async fn round(&self, channel: &Channel) -> anyhow::Result<Round> {
        let config = self.topology.config();
        let events =
            self.store.unpublished_events(config.relay_batch_size).await.context("reading the outbox")?;
        if events.is_empty() {
            return Ok(Round::Done { full: false });
        }
        let full = events.len() == config.relay_batch_size as usize;
        // Publish the whole batch, then collect the confirms in order: one round trip's
        // wait per batch instead of per event.
        let mut pending = Vec::with_capacity(events.len());
        for event in &events {
            let (body, properties) = envelope(event);
            let confirm = channel
                .basic_publish(
                    &config.events_exchange,
                    &event.event.event_type,
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    &body,
                    properties,
                )
                .await?;
            pending.push(confirm);
        }
        // Only a prefix of confirmed events is marked: an event after a failed one is
        // published again later rather than overtaking it for good.
        let mut confirmed = Vec::with_capacity(events.len());
        let mut outcome = Round::Done { full };
        for (event, confirm) in events.iter().zip(pending) {
            let confirmation = confirm.await?;
            if confirmation.is_nack() {
                anyhow::bail!("the broker refused event {} (nack)", event.event.event_id);
            }
            if confirmation.take_message().is_some() {
                self.metrics.event_unrouted();
                tracing::warn!(
                    event_id = %event.event.event_id,
                    event_type = %event.event.event_type,
                    "the broker returned an unroutable event; it stays in the outbox"
                );
                outcome = Round::Unrouted;
                break;
            }
            confirmed.push(event.sequence);
        }
        self.store.mark_events_published(&confirmed, Utc::now()).await.context("marking events published")?;
        self.metrics.events_published(confirmed.len() as u64);
        Ok(outcome)
    }
}

/// The published form of an event: the envelope as JSON, persistent, `message_id` =
/// `event_id`, `type` = `event_type`.
fn envelope(stored: &StoredEvent) -> (Vec<u8>, BasicProperties) {
    let event = &stored.event;
    let body = serde_json::json!({
        "event_id": event.event_id,
        "event_type": event.event_type,
        "aggregate_id": event.aggregate_id,
        "user_id": event.user_id,
        "payload": event.payload,
        "metadata": event.metadata,
        "timestamp": event.timestamp,
    });
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(event.event_id.to_string()))
        .with_type(ShortString::from(event.event_type.as_str()))
        .with_content_type(ShortString::from("application/json"))
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(event.timestamp.timestamp()).unwrap_or_default())
        .with_app_id(ShortString::from("herald"));
    (body.to_string().into_bytes(), properties)
}
