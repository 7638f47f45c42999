//! The event publisher: where outbox events go (today the RabbitMQ events exchange).
//!
//! The port carries no broker types, so the relay's logic (services::relay: in order,
//! marked only after the confirm) runs the same against RabbitMQ (amqp::relay) and against
//! an in-memory publisher in tests.

use async_trait::async_trait;

use crate::model::StoredEvent;

/// The publisher (its connection, its channel) failed; what it was given counts as not
/// published.
#[derive(Debug, thiserror::Error)]
#[error("the event publisher failed: {0}")]
pub struct PublishError(pub String);

impl PublishError {
    pub fn new(error: impl std::fmt::Display) -> Self {
        Self(format!("{error:#}"))
    }
}

/// How far a batch got: its first `confirmed` events are confirmed; `stopped` says why the
/// rest were not (none when all were).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    pub confirmed: usize,
    pub stopped: Option<Stopped>,
}

impl Publication {
    pub fn all(events: &[StoredEvent]) -> Self {
        Self { confirmed: events.len(), stopped: None }
    }
}

/// Why a publisher stopped confirming a batch at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// No one takes events of its type (RabbitMQ returned it as unroutable): it stays in
    /// the outbox and is tried again later.
    Unrouted,
    /// The broker refused it (a nack): the publisher must reconnect before the next try.
    Refused,
}

#[async_trait]
pub trait EventPublisher: Send {
    /// Publishes `events` in this order and returns once the broker confirmed them (or
    /// stopped at one, see [`Publication`]). Only the confirmed prefix counts as published:
    /// an event after one that was not confirmed must not overtake it.
    async fn publish(&mut self, events: &[StoredEvent]) -> Result<Publication, PublishError>;
}
