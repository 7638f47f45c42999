//! Prometheus metrics, served at `/metrics`. One registry per running app (no global
//! state), so several apps in one test process never share counters.

use std::time::Duration;

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

/// A message's channel and the provider that took it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelProviderLabel {
    pub channel: String,
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    pub provider: String,
}

/// A provider passed over on a route, and why (`breaker_open`, `permanent`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailoverLabel {
    pub provider: String,
    pub reason: String,
}

/// A delivery receipt from a provider, and what herald made of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiptLabel {
    pub provider: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabel {
    pub component: String,
}

/// Values read from the store when metrics are rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreGauges {
    pub queue_depth: u64,
    pub oldest_due_age: Duration,
    pub outbox_waiting: u64,
    pub outbox_oldest_age: Duration,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    accepted: Family<ChannelLabel, Counter>,
    sent: Family<ChannelProviderLabel, Counter>,
    sms_segments: Family<ProviderLabel, Counter>,
    attempts_failed: Family<ProviderLabel, Counter>,
    retried: Family<ProviderLabel, Counter>,
    dead_lettered: Family<ProviderLabel, Counter>,
    provider_latency: Family<ProviderLabel, Histogram>,
    breaker_state: Family<ProviderLabel, Gauge>,
    breaker_opened: Family<ProviderLabel, Counter>,
    concurrency_limit: Family<ProviderLabel, Gauge>,
    failovers: Family<FailoverLabel, Counter>,
    receipts: Family<ReceiptLabel, Counter>,
    queue_depth: Gauge,
    oldest_due_age: Gauge<f64, AtomicU64>,
    outbox_waiting: Gauge,
    relay_lag: Gauge<f64, AtomicU64>,
    commands: Family<OutcomeLabel, Counter>,
    user_events: Family<OutcomeLabel, Counter>,
    events_published: Counter,
    events_unrouted: Counter,
    jobs: Family<OutcomeLabel, Counter>,
    broker_connected: Family<ComponentLabel, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let metrics = Self {
            accepted: Family::default(),
            sent: Family::default(),
            sms_segments: Family::default(),
            attempts_failed: Family::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            provider_latency: Family::new_with_constructor(latency_histogram),
            breaker_state: Family::default(),
            breaker_opened: Family::default(),
            concurrency_limit: Family::default(),
            failovers: Family::default(),
            receipts: Family::default(),
            queue_depth: Gauge::default(),
            oldest_due_age: Gauge::default(),
            outbox_waiting: Gauge::default(),
            relay_lag: Gauge::default(),
            commands: Family::default(),
            user_events: Family::default(),
            events_published: Counter::default(),
            events_unrouted: Counter::default(),
            jobs: Family::default(),
            broker_connected: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "messages_accepted",
            "Messages accepted (committed) by intake",
            metrics.accepted.clone(),
        );
        registry.register("messages_sent", "Messages a provider accepted", metrics.sent.clone());
        registry.register(
            "sms_segments",
            "SMS parts (GSM-7 or UCS-2 segments) of the SMS and WhatsApp messages a provider accepted: what the sender pays for",
            metrics.sms_segments.clone(),
        );
        registry.register(
            "attempts_failed",
            "Provider attempts that failed, whatever came next",
            metrics.attempts_failed.clone(),
        );
        registry.register(
            "messages_retried",
            "Failed attempts followed by a scheduled retry",
            metrics.retried.clone(),
        );
        registry.register(
            "messages_dead_lettered",
            "Messages that ended failed (permanent error or out of retries)",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "provider_latency_seconds",
            "Time a provider took to answer one send",
            metrics.provider_latency.clone(),
        );
        registry.register(
            "breaker_state",
            "Circuit breaker per provider: 0 closed, 1 half-open, 2 open",
            metrics.breaker_state.clone(),
        );
        registry.register(
            "breaker_opened",
            "Times a provider's circuit breaker opened",
            metrics.breaker_opened.clone(),
        );
        registry.register(
            "provider_concurrency_limit",
            "Provider calls allowed in flight at once now (adaptive, per worker process)",
            metrics.concurrency_limit.clone(),
        );
        registry.register(
            "delivery_receipts",
            "Delivery receipts taken from providers, by outcome: delivered, undelivered, progress (a status on the way), unchanged (repeated), unknown, not_sent_yet, refused",
            metrics.receipts.clone(),
        );
        registry.register(
            "provider_failovers",
            "Messages a provider passed on to the next of its route (breaker open, or a permanent refusal the route fails over on)",
            metrics.failovers.clone(),
        );
        registry.register(
            "queue_depth",
            "Messages waiting to be sent: pending or scheduled (due now or later)",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "oldest_due_age_seconds",
            "How long the most overdue pending message has been due",
            metrics.oldest_due_age.clone(),
        );
        registry.register(
            "outbox_waiting",
            "Events in the outbox not yet published to the broker",
            metrics.outbox_waiting.clone(),
        );
        registry.register(
            "relay_lag_seconds",
            "Age of the oldest event not yet published to the broker",
            metrics.relay_lag.clone(),
        );
        registry.register(
            "amqp_user_events",
            "Identity events (user.created, user.updated, user.deleted) taken from the queue: applied, stale (a later change was stored) or rejected",
            metrics.user_events.clone(),
        );
        registry.register(
            "amqp_commands",
            "SendSms commands taken from the queue: accepted, replayed (a repeat) or rejected",
            metrics.commands.clone(),
        );
        registry.register(
            "events_published",
            "Events the broker confirmed",
            metrics.events_published.clone(),
        );
        registry.register(
            "events_unrouted",
            "Events the broker returned as unroutable (kept in the outbox and retried)",
            metrics.events_unrouted.clone(),
        );
        registry.register(
            "amqp_jobs",
            "Job deliveries from the AMQP transport: sent (processed) or skipped (already final)",
            metrics.jobs.clone(),
        );
        registry.register(
            "broker_connected",
            "1 while a component's RabbitMQ connection is up",
            metrics.broker_connected.clone(),
        );
        Self { registry, ..metrics }
    }

    pub fn user_event(&self, outcome: &str) {
        self.user_events.get_or_create(&OutcomeLabel { outcome: outcome.to_owned() }).inc();
    }

    pub fn amqp_command(&self, outcome: &str) {
        self.commands.get_or_create(&OutcomeLabel { outcome: outcome.to_owned() }).inc();
    }

    pub fn amqp_job(&self, outcome: &str, count: u64) {
        self.jobs.get_or_create(&OutcomeLabel { outcome: outcome.to_owned() }).inc_by(count);
    }

    pub fn events_published(&self, count: u64) {
        self.events_published.inc_by(count);
    }

    pub fn event_unrouted(&self) {
        self.events_unrouted.inc();
    }

    pub fn broker_connected(&self, component: &str, up: bool) {
        self.broker_connected
            .get_or_create(&ComponentLabel { component: component.to_owned() })
            .set(i64::from(up));
    }

    pub fn message_accepted(&self, channel: &str) {
        self.accepted.get_or_create(&ChannelLabel { channel: channel.to_owned() }).inc();
    }

    pub fn provider_answered(&self, provider: &str, took: Duration) {
        self.provider_latency.get_or_create(&label(provider)).observe(took.as_secs_f64());
    }

    /// A message a provider accepted; `segments`: its SMS parts, for SMS and WhatsApp.
    pub fn message_sent(&self, channel: &str, provider: &str, segments: Option<u32>) {
        let label = ChannelProviderLabel { channel: channel.to_owned(), provider: provider.to_owned() };
        self.sent.get_or_create(&label).inc();
        if let Some(segments) = segments {
            self.sms_segments.get_or_create(&self::label(provider)).inc_by(u64::from(segments));
        }
    }

    pub fn attempt_retried(&self, provider: &str) {
        self.attempts_failed.get_or_create(&label(provider)).inc();
        self.retried.get_or_create(&label(provider)).inc();
    }

    pub fn message_dead_lettered(&self, provider: &str) {
        self.attempts_failed.get_or_create(&label(provider)).inc();
        self.dead_lettered.get_or_create(&label(provider)).inc();
    }

    pub fn breaker_state(&self, provider: &str, state: i64) {
        self.breaker_state.get_or_create(&label(provider)).set(state);
    }

    pub fn breaker_opened(&self, provider: &str) {
        self.breaker_opened.get_or_create(&label(provider)).inc();
    }

    pub fn concurrency_limit(&self, provider: &str, limit: u32) {
        self.concurrency_limit.get_or_create(&label(provider)).set(i64::from(limit));
    }

    pub fn delivery_receipt(&self, provider: &str, outcome: &str) {
        self.receipts
            .get_or_create(&ReceiptLabel { provider: provider.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    pub fn provider_failover(&self, provider: &str, reason: &str) {
        self.failovers
            .get_or_create(&FailoverLabel { provider: provider.to_owned(), reason: reason.to_owned() })
            .inc();
    }

    /// Sets the gauges read from the database, then renders the OpenMetrics text.
    pub fn render(&self, gauges: StoreGauges) -> String {
        self.queue_depth.set(i64::try_from(gauges.queue_depth).unwrap_or(i64::MAX));
        self.oldest_due_age.set(gauges.oldest_due_age.as_secs_f64());
        self.outbox_waiting.set(i64::try_from(gauges.outbox_waiting).unwrap_or(i64::MAX));
        self.relay_lag.set(gauges.outbox_oldest_age.as_secs_f64());
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

fn label(provider: &str) -> ProviderLabel {
    ProviderLabel { provider: provider.to_owned() }
}
