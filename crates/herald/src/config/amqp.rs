//! `[amqp]`: RabbitMQ names and limits.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// RabbitMQ names and limits. Every queue herald declares is a durable quorum queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AmqpConfig {
    /// `SendSms` commands are consumed from this queue.
    pub command_queue: String,
    /// Invalid commands go here, with the reason in the `x-herald-rejection` header.
    pub command_dead_letter_queue: String,
    /// Identity events (`user.created`, `user.updated`, `user.deleted`) are consumed from
    /// this queue into the contact directory.
    pub user_events_queue: String,
    /// Invalid identity events go here, with the reason in the `x-herald-rejection` header.
    pub user_events_dead_letter_queue: String,
    /// Deliveries not acknowledged (consumer prefetch), per consumer.
    pub prefetch: u16,
    /// Events are published to this durable topic exchange, routing key = event type.
    pub events_exchange: String,
    /// Events no queue is bound for are kept here (the exchange's alternate exchange and
    /// its queue share this name) instead of being dropped.
    pub unrouted_events_queue: String,
    /// Outbox rows published per relay round.
    pub relay_batch_size: u32,
    /// How often the relay looks for new outbox rows when nothing woke it.
    pub relay_poll_interval_ms: u64,
    /// With `job_transport = "amqp"`: due message ids go through this queue.
    pub jobs_queue: String,
    /// Deliveries of one job before RabbitMQ dead-letters it (quorum `x-delivery-limit`).
    pub jobs_delivery_limit: u32,
    /// Dead letters of the jobs queue.
    pub jobs_dead_letter_queue: String,
    /// Direct exchange that routes dead letters to the queues above (by queue name).
    pub dead_letter_exchange: String,
    /// Longest wait between two reconnection attempts.
    pub reconnect_max_ms: u64,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            command_queue: "herald.send_sms".into(),
            command_dead_letter_queue: "herald.send_sms.dead".into(),
            user_events_queue: "herald.user_events".into(),
            user_events_dead_letter_queue: "herald.user_events.dead".into(),
            prefetch: 200,
            events_exchange: "herald.events".into(),
            unrouted_events_queue: "herald.events.unrouted".into(),
            relay_batch_size: 500,
            relay_poll_interval_ms: 200,
            jobs_queue: "campaign_sends".into(),
            jobs_delivery_limit: 5,
            jobs_dead_letter_queue: "campaign_sends.dead".into(),
            dead_letter_exchange: "herald.dead_letters".into(),
            reconnect_max_ms: 10_000,
        }
    }
}

impl AmqpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.prefetch == 0 {
            return invalid("amqp.prefetch", "must be at least 1");
        }
        if self.relay_batch_size == 0 || self.relay_batch_size > 10_000 {
            return invalid("amqp.relay_batch_size", "must be between 1 and 10000");
        }
        if self.relay_poll_interval_ms == 0 || self.reconnect_max_ms == 0 {
            return invalid("amqp.relay_poll_interval_ms", "and amqp.reconnect_max_ms must be at least 1");
        }
        if self.jobs_delivery_limit == 0 {
            return invalid("amqp.jobs_delivery_limit", "must be at least 1");
        }
        Ok(())
    }
}
