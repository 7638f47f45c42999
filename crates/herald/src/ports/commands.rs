//! The command source: where commands (today `SendSms` from a RabbitMQ queue) come in, and
//! how each is settled once herald has dealt with it.
//!
//! The port carries no broker types, so the command logic (services::commands) runs the
//! same against RabbitMQ (amqp::inlet) and against an in-memory source in tests.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// The source (its connection, its channel) failed. Deliveries not yet settled come back:
/// the source redelivers them once it is open again.
#[derive(Debug, thiserror::Error)]
#[error("the command source failed: {0}")]
pub struct CommandSourceError(pub String);

impl CommandSourceError {
    pub fn new(error: impl std::fmt::Display) -> Self {
        Self(format!("{error:#}"))
    }
}

#[async_trait]
pub trait CommandSource: Send {
    /// The next deliveries: waits for one, then takes what else has arrived (a few
    /// milliseconds' worth), up to `max`. `Ok(None)` at `shutdown` or once the source has
    /// nothing more to give; an error when it failed.
    async fn next_batch(
        &mut self,
        max: usize,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<CommandDelivery>>, CommandSourceError>;
}

/// How a source settles one delivery; each adapter has its own.
#[async_trait]
pub trait Settle: Send + Sync {
    /// Done with: the source forgets the command.
    async fn ack(self: Box<Self>) -> Result<(), CommandSourceError>;
    /// Not for herald to handle: kept aside (`payload`, with `reason`) where an operator
    /// finds it, and never delivered again. Returns once it is kept.
    async fn dead_letter(self: Box<Self>, payload: &[u8], reason: &str) -> Result<(), CommandSourceError>;
    /// Not handled yet: delivered again later (to this consumer or another).
    async fn requeue(self: Box<Self>) -> Result<(), CommandSourceError>;
}

/// One command as it arrived: its payload, its id and headers, and its settlement. A
/// delivery dropped unsettled is delivered again once its source closes.
pub struct CommandDelivery {
    pub payload: Vec<u8>,
    /// The transport's id of the command (AMQP `message_id`), if the producer set one.
    pub message_id: Option<String>,
    /// The transport's headers whose values are text.
    pub headers: BTreeMap<String, String>,
    settle: Box<dyn Settle>,
}

impl std::fmt::Debug for CommandDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload holds phone numbers and texts: its size only.
        f.debug_struct("CommandDelivery")
            .field("bytes", &self.payload.len())
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl CommandDelivery {
    pub fn new(
        payload: Vec<u8>,
        message_id: Option<String>,
        headers: BTreeMap<String, String>,
        settle: impl Settle + 'static,
    ) -> Self {
        Self { payload, message_id, headers, settle: Box::new(settle) }
    }

    pub async fn ack(self) -> Result<(), CommandSourceError> {
        self.settle.ack().await
    }

    pub async fn dead_letter(self, reason: &str) -> Result<(), CommandSourceError> {
        self.settle.dead_letter(&self.payload, reason).await
    }

    pub async fn requeue(self) -> Result<(), CommandSourceError> {
        self.settle.requeue().await
    }
}
