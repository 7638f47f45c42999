//! The exchanges and queues herald declares. Declaring is idempotent, so every component
//! declares what it uses each time it connects. Queues are durable quorum queues; changing
//! a queue's arguments later needs the queue deleted first (RabbitMQ refuses a redeclare
//! with other arguments).

use lapin::{
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
    Channel, ExchangeKind,
};

use crate::config::AmqpConfig;

/// Deliveries of one command before RabbitMQ dead-letters it: a command that crashes its
/// consumer every time ends in the dead-letter queue instead of looping.
const COMMAND_DELIVERY_LIMIT: u32 = 20;

#[derive(Debug, Clone)]
pub struct Topology {
    config: AmqpConfig,
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

impl Topology {
    pub fn new(config: AmqpConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &AmqpConfig {
        &self.config
    }

    /// A quorum queue whose rejected and over-delivered messages go to `dead_letter_queue`.
    async fn work_queue(
        &self,
        channel: &Channel,
        queue: &str,
        dead_letter_queue: &str,
        delivery_limit: u32,
    ) -> lapin::Result<()> {
        let dlx = &self.config.dead_letter_exchange;
        channel
            .exchange_declare(dlx, ExchangeKind::Direct, durable_exchange(), FieldTable::default())
            .await?;
        let mut quorum = FieldTable::default();
        quorum.insert(ShortString::from("x-queue-type"), text("quorum"));
        channel.queue_declare(dead_letter_queue, durable_queue(), quorum.clone()).await?;
        channel
            .queue_bind(
                dead_letter_queue,
                dlx,
                dead_letter_queue,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut arguments = quorum;
        arguments.insert(ShortString::from("x-dead-letter-exchange"), text(dlx));
        arguments.insert(ShortString::from("x-dead-letter-routing-key"), text(dead_letter_queue));
        arguments.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongUInt(delivery_limit));
        channel.queue_declare(queue, durable_queue(), arguments).await?;
        Ok(())
    }

    /// The `SendSms` command queue and its dead-letter queue.
    pub async fn declare_commands(&self, channel: &Channel) -> lapin::Result<()> {
        let c = &self.config;
        self.work_queue(channel, &c.command_queue, &c.command_dead_letter_queue, COMMAND_DELIVERY_LIMIT).await
    }

    /// The identity events queue and its dead-letter queue.
    pub async fn declare_user_events(&self, channel: &Channel) -> lapin::Result<()> {
        let c = &self.config;
        self.work_queue(
            channel,
            &c.user_events_queue,
            &c.user_events_dead_letter_queue,
            COMMAND_DELIVERY_LIMIT,
        )
        .await
    }

    /// The events exchange, with an alternate exchange and queue that keep events no
    /// binding wants.
    pub async fn declare_events(&self, channel: &Channel) -> lapin::Result<()> {
        let unrouted = &self.config.unrouted_events_queue;
        channel
            .exchange_declare(unrouted, ExchangeKind::Fanout, durable_exchange(), FieldTable::default())
            .await?;
        let mut quorum = FieldTable::default();
        quorum.insert(ShortString::from("x-queue-type"), text("quorum"));
        channel.queue_declare(unrouted, durable_queue(), quorum).await?;
        channel
            .queue_bind(unrouted, unrouted, "", QueueBindOptions::default(), FieldTable::default())
            .await?;
        let mut arguments = FieldTable::default();
        arguments.insert(ShortString::from("alternate-exchange"), text(unrouted));
        channel
            .exchange_declare(
                &self.config.events_exchange,
                ExchangeKind::Topic,
                durable_exchange(),
                arguments,
            )
            .await?;
        Ok(())
    }

    /// The jobs queue of the AMQP job transport and its dead-letter queue.
    pub async fn declare_jobs(&self, channel: &Channel) -> lapin::Result<()> {
        let c = &self.config;
        self.work_queue(channel, &c.jobs_queue, &c.jobs_dead_letter_queue, c.jobs_delivery_limit).await
    }
}
