//! The outbox relay's RabbitMQ side: [`OutboxRelay`] (services::relay: the role, the
//! order, marking only after the confirm) publishes through [`RabbitEvents`], which puts
//! each event on the events exchange with publisher confirms and `mandatory`.
//!
//! The published form: routing key = event type, persistent, `message_id` = `event_id` for
//! consumers to deduplicate on, `type` = event type, the envelope as JSON.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
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
    ports::{EventPublisher, Publication, PublishError, SingletonLease, Stopped},
    services::relay::{Ended, OutboxRelay},
};

const COMPONENT: &str = "relay";

pub struct Relay {
    pub url: String,
    pub topology: Topology,
    pub relay: OutboxRelay,
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

impl Relay {
    /// Relays until `shutdown` (which should come after the dispatcher stopped, so its last
    /// events are flushed), whenever this process holds the relay role.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        while let Some(lease) = this.relay.take_role(&shutdown).await {
            this.relay_while_held(Arc::new(Mutex::new(lease)), &shutdown).await;
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
        let mut publisher = RabbitEvents { channel, exchange: config.events_exchange.clone() };
        let mut lease = lease.lock().await;
        let ended = self.relay.relay(&mut publisher, &mut **lease, shutdown).await?;
        let reason = match ended {
            Ended::Shutdown => "herald is shutting down",
            Ended::RoleLost => "relay role lost",
        };
        let _ = connection.close(200, reason).await;
        Ok(())
    }
}

/// The events exchange as an [`EventPublisher`], on a channel with confirms.
struct RabbitEvents {
    channel: Channel,
    exchange: String,
}

#[async_trait]
impl EventPublisher for RabbitEvents {
    async fn publish(&mut self, events: &[StoredEvent]) -> Result<Publication, PublishError> {
        // Publish the whole batch, then collect the confirms in order: one round trip's
        // wait per batch instead of per event.
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
            let (body, properties) = envelope(event);
            let confirm = self
                .channel
                .basic_publish(
                    &self.exchange,
                    &event.event.event_type,
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    &body,
                    properties,
                )
                .await
                .map_err(PublishError::new)?;
            pending.push(confirm);
        }
        for (confirmed, confirm) in pending.into_iter().enumerate() {
            let confirmation = confirm.await.map_err(PublishError::new)?;
            if confirmation.is_nack() {
                return Ok(Publication { confirmed, stopped: Some(Stopped::Refused) });
            }
            // `mandatory`: the broker hands back an event no queue took.
            if confirmation.take_message().is_some() {
                return Ok(Publication { confirmed, stopped: Some(Stopped::Unrouted) });
            }
        }
        Ok(Publication::all(events))
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
