//! RabbitMQ (AMQP 0-9-1, with lapin): `SendSms` commands in ([`inlet`]), outbox events out
//! ([`relay`]) and, optionally, message ids between processes ([`transport`]).
//!
//! The database stays the source of truth. Every component owns its connection and runs
//! under [`supervise`]: when the broker goes away it reconnects with backoff, and nothing
//! is lost meanwhile (commands stay in their queue, events wait in the outbox, due messages
//! wait in the messages table).

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

pub mod inlet;
pub mod relay;
mod topology;
pub mod transport;

pub use topology::Topology;

/// Header that carries why herald dead-lettered a command.
pub const REJECTION_HEADER: &str = "x-herald-rejection";

/// Opens a connection on the current tokio runtime; `name` shows in RabbitMQ's management
/// tools (`rabbitmqctl list_connections client_properties`).
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    Connection::connect(url, properties).await
}

/// Which broker components of this process are connected, for `/health/ready`.
#[derive(Debug, Default)]
pub struct BrokerStatus {
    components: Mutex<BTreeMap<&'static str, bool>>,
}

impl BrokerStatus {
    pub fn set(&self, component: &'static str, up: bool) {
        self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(component, up);
    }

    /// Forgets a component (e.g. the relay while another process holds its role).
    pub fn remove(&self, component: &'static str) {
        self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(component);
    }

    /// `None` when this process uses no broker; otherwise whether every component is up.
    pub fn healthy(&self) -> Option<bool> {
        let components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (!components.is_empty()).then(|| components.values().all(|up| *up))
    }
}

/// Runs `session` again and again until `shutdown`: each run connects, works, and returns
/// when the connection fails (an error) or at shutdown (`Ok`). Between failed runs it
/// waits with exponential backoff, from 100 ms up to `max_backoff`.
pub async fn supervise<F, Fut>(
    component: &'static str,
    status: Arc<BrokerStatus>,
    metrics: Arc<Metrics>,
    max_backoff: Duration,
    shutdown: CancellationToken,
    mut session: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);
    let mut backoff = FIRST_BACKOFF;
    status.set(component, false);
    while !shutdown.is_cancelled() {
        let started = tokio::time::Instant::now();
        let outcome = session().await;
        status.set(component, false);
        metrics.broker_connected(component, false);
        match outcome {
            Ok(()) => break,
            Err(error) => {
                // A session that ran a while was healthy: start the backoff over.
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = FIRST_BACKOFF;
                }
                tracing::warn!(component, error = %format!("{error:#}"), retry_in = ?backoff, "broker session ended; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// How long a consumer waits for more deliveries before it handles a smaller batch.
const LINGER: Duration = Duration::from_millis(5);

/// The next batch from `consumer`: waits for one delivery, then takes whatever else
/// arrives within a few milliseconds, up to `max`. `Ok(None)` at shutdown; an error when
/// the consumer failed or was cancelled by the broker.
pub(crate) async fn next_batch(
    consumer: &mut lapin::Consumer,
    max: usize,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Vec<lapin::message::Delivery>>> {
    use futures::StreamExt;
    let first = tokio::select! {
        () = shutdown.cancelled() => return Ok(None),
        next = consumer.next() => next,
    };
    let Some(first) = first else { anyhow::bail!("the consumer was cancelled") };
    let mut deliveries = vec![first?];
    let linger_until = tokio::time::Instant::now() + LINGER;
    while deliveries.len() < max {
        match tokio::time::timeout_at(linger_until, consumer.next()).await {
            Ok(Some(delivery)) => deliveries.push(delivery?),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Some(deliveries))
}

/// Marks a component connected (after its topology is declared and it consumes).
pub fn connected(component: &'static str, status: &BrokerStatus, metrics: &Metrics) {
    status.set(component, true);
    metrics.broker_connected(component, true);
    tracing::info!(component, "connected to the broker");
}
