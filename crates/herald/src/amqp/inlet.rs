//! The command inlet's RabbitMQ side: `SendSms` commands from a quorum queue, handed to
//! [`Commands`] (services::commands, which parses, validates, stores and settles them)
//! through the [`CommandSource`] port; and, the same way, identity events to
//! [`UserEvents`] from their own queue.
//!
//! A delivery is acknowledged once its message is committed. Dead-lettering publishes the
//! command to the dead-letter queue with the reason in the `x-herald-rejection` header
//! (RabbitMQ's own dead-lettering cannot add one), waits for the confirm, then acknowledges
//! it; if that publish is not confirmed the command is rejected without requeue and the
//! queue's own dead-lettering takes it (without the header).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use lapin::{
    acker::Acker,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
    BasicProperties, Channel, Consumer,
};
use tokio_util::sync::CancellationToken;

use super::{connect, connected, next_batch, supervise, BrokerStatus, Topology, REJECTION_HEADER};
use crate::{
    metrics::Metrics,
    ports::{CommandDelivery, CommandSource, CommandSourceError, Settle},
    services::{commands::Commands, user_events::UserEvents},
};

/// What an inlet feeds, and so which queue it consumes.
#[derive(Debug)]
pub enum Feed {
    /// `SendSms` commands into messages (`amqp.command_queue`).
    Commands(Commands),
    /// Identity events into the contact directory (`amqp.user_events_queue`).
    UserEvents(UserEvents),
}

impl Feed {
    /// The component name in logs, metrics and health.
    fn component(&self) -> &'static str {
        match self {
            Self::Commands(_) => "inlet",
            Self::UserEvents(_) => "user_events",
        }
    }

    /// The queue consumed and the one dead letters go to.
    fn queues<'c>(&self, config: &'c crate::config::AmqpConfig) -> (&'c str, &'c str) {
        match self {
            Self::Commands(_) => (&config.command_queue, &config.command_dead_letter_queue),
            Self::UserEvents(_) => (&config.user_events_queue, &config.user_events_dead_letter_queue),
        }
    }

    async fn declare(&self, topology: &Topology, channel: &Channel) -> lapin::Result<()> {
        match self {
            Self::Commands(_) => topology.declare_commands(channel).await,
            Self::UserEvents(_) => topology.declare_user_events(channel).await,
        }
    }

    async fn consume(
        &self,
        source: &mut dyn CommandSource,
        shutdown: &CancellationToken,
    ) -> Result<(), CommandSourceError> {
        match self {
            Self::Commands(commands) => commands.consume(source, shutdown).await,
            Self::UserEvents(events) => events.consume(source, shutdown).await,
        }
    }
}

#[derive(Debug)]
pub struct Inlet {
    pub url: String,
    pub topology: Topology,
    pub feed: Feed,
    pub metrics: Arc<Metrics>,
    pub status: Arc<BrokerStatus>,
}

impl Inlet {
    /// Consumes commands until `shutdown`, reconnecting whenever the broker goes away.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let max_backoff = Duration::from_millis(this.topology.config().reconnect_max_ms);
        supervise(
            this.feed.component(),
            this.status.clone(),
            this.metrics.clone(),
            max_backoff,
            shutdown.clone(),
            || {
                let (this, shutdown) = (this.clone(), shutdown.clone());
                async move { this.session(&shutdown).await }
            },
        )
        .await;
    }

    /// One connection's life: declare, consume, and on shutdown stop consuming and let the
    /// commands in hand finish.
    async fn session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let config = self.topology.config();
        let (queue, dead_letter_queue) = self.feed.queues(config);
        let connection = connect(&self.url, &format!("herald {} {queue}", self.feed.component())).await?;
        let channel = connection.create_channel().await?;
        self.feed.declare(&self.topology, &channel).await?;
        channel.basic_qos(config.prefetch, BasicQosOptions::default()).await?;
        let dead_letters = connection.create_channel().await?;
        dead_letters.confirm_select(ConfirmSelectOptions::default()).await?;
        let tag = format!("herald-inlet-{}", uuid::Uuid::now_v7().simple());
        let consumer =
            channel.basic_consume(queue, &tag, BasicConsumeOptions::default(), FieldTable::default()).await?;
        connected(self.feed.component(), &self.status, &self.metrics);
        let mut source = RabbitCommands {
            consumer,
            dead_letters: Arc::new(DeadLetters {
                channel: dead_letters,
                exchange: config.dead_letter_exchange.clone(),
                queue: dead_letter_queue.to_owned(),
            }),
        };
        self.feed.consume(&mut source, shutdown).await?;
        // Stop deliveries; prefetched ones not taken go back to the queue with the channel.
        let _ = channel.basic_cancel(&tag, BasicCancelOptions::default()).await;
        let _ = connection.close(200, "herald is shutting down").await;
        Ok(())
    }
}

/// The command queue as a [`CommandSource`].
struct RabbitCommands {
    consumer: Consumer,
    dead_letters: Arc<DeadLetters>,
}

/// Where dead-lettered commands are published, on a channel with confirms.
struct DeadLetters {
    channel: Channel,
    exchange: String,
    queue: String,
}

#[async_trait]
impl CommandSource for RabbitCommands {
    async fn next_batch(
        &mut self,
        max: usize,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<CommandDelivery>>, CommandSourceError> {
        let Some(deliveries) =
            next_batch(&mut self.consumer, max, shutdown).await.map_err(CommandSourceError::new)?
        else {
            return Ok(None);
        };
        let deliveries = deliveries
            .into_iter()
            .map(|delivery| {
                let properties = delivery.properties;
                let message_id = properties.message_id().as_ref().map(|id| id.as_str().to_owned());
                let headers = text_headers(properties.headers().as_ref());
                let settle = RabbitSettle {
                    acker: delivery.acker,
                    properties,
                    dead_letters: self.dead_letters.clone(),
                };
                CommandDelivery::new(delivery.data, message_id, headers, settle)
            })
            .collect();
        Ok(Some(deliveries))
    }
}

/// The headers whose values are text (others are left out of the port's view; the
/// dead-lettered copy keeps them all).
fn text_headers(headers: Option<&FieldTable>) -> BTreeMap<String, String> {
    let Some(headers) = headers else { return BTreeMap::new() };
    headers
        .inner()
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
                AMQPValue::ShortString(text) => text.as_str().to_owned(),
                _ => return None,
            };
            Some((name.as_str().to_owned(), text))
        })
        .collect()
}

struct RabbitSettle {
    acker: Acker,
    properties: BasicProperties,
    dead_letters: Arc<DeadLetters>,
}

#[async_trait]
impl Settle for RabbitSettle {
    async fn ack(self: Box<Self>) -> Result<(), CommandSourceError> {
        self.acker.ack(BasicAckOptions::default()).await.map(drop).map_err(CommandSourceError::new)
    }

    async fn dead_letter(self: Box<Self>, payload: &[u8], reason: &str) -> Result<(), CommandSourceError> {
        let mut headers = self.properties.headers().clone().unwrap_or_default();
        headers.insert(ShortString::from(REJECTION_HEADER), AMQPValue::LongString(LongString::from(reason)));
        let properties = self.properties.clone().with_headers(headers);
        let dead_letters = &self.dead_letters;
        let published = async {
            dead_letters
                .channel
                .basic_publish(
                    &dead_letters.exchange,
                    &dead_letters.queue,
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    payload,
                    properties,
                )
                .await?
                .await
        };
        // Acknowledged and not returned as unroutable.
        let confirmed = match published.await {
            Ok(confirmation) => confirmation.is_ack() && confirmation.take_message().is_none(),
            Err(_) => false,
        };
        let settled = if confirmed {
            self.acker.ack(BasicAckOptions::default()).await
        } else {
            self.acker.nack(BasicNackOptions { requeue: false, ..BasicNackOptions::default() }).await
        };
        settled.map(drop).map_err(CommandSourceError::new)
    }

    async fn requeue(self: Box<Self>) -> Result<(), CommandSourceError> {
        let options = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
        self.acker.nack(options).await.map(drop).map_err(CommandSourceError::new)
    }
}
