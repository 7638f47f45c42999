//! RabbitMQ for tests: the real broker on 127.0.0.1:5672 (or `HERALD_TEST_AMQP_URL`), with
//! every queue and exchange named with a per-test prefix so tests run side by side.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use herald::{
    amqp::Topology,
    config::{AmqpConfig, Config, Secret},
};
use lapin::{
    options::{
        BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
    BasicProperties, Channel, Connection,
};
use serde_json::Value;

pub(crate) fn amqp_url() -> String {
    std::env::var("HERALD_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// An event as a test consumer bound to the events exchange received it.
#[derive(Debug, Clone)]
pub struct TappedEvent {
    pub routing_key: String,
    pub message_id: Option<String>,
    pub kind: Option<String>,
    pub body: Value,
}

pub struct TestBroker {
    pub url: String,
    pub prefix: String,
    pub config: AmqpConfig,
    connection: Connection,
    channel: Channel,
}

impl TestBroker {
    /// None (after a loud message) when RabbitMQ is unreachable and
    /// `HERALD_REQUIRE_SERVICES` is not set.
    pub async fn connect() -> Option<Self> {
        let url = amqp_url();
        let connection = match tokio::time::timeout(
            Duration::from_secs(5),
            herald::amqp::connect(&url, "herald test"),
        )
        .await
        {
            Ok(Ok(connection)) => connection,
            outcome => {
                let error = match outcome {
                    Ok(Err(error)) => error.to_string(),
                    _ => "timed out".into(),
                };
                let shown = crate::harness::without_password(&url);
                assert!(
                    !std::env::var("HERALD_REQUIRE_SERVICES").is_ok_and(|v| v == "1"),
                    "RabbitMQ at {shown} is unreachable and HERALD_REQUIRE_SERVICES=1: {error}"
                );
                eprintln!("\n!!! SKIPPED: RabbitMQ at {shown} is unreachable ({error}); set HERALD_REQUIRE_SERVICES=1 to make this a failure\n");
                crate::harness::skipped(crate::harness::Service::RabbitMq, &error);
                return None;
            }
        };
        let channel = connection.create_channel().await.unwrap();
        channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let prefix = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[16..]);
        let config = AmqpConfig {
            command_queue: format!("{prefix}.send_sms"),
            command_dead_letter_queue: format!("{prefix}.send_sms.dead"),
            user_events_queue: format!("{prefix}.user_events"),
            user_events_dead_letter_queue: format!("{prefix}.user_events.dead"),
            events_exchange: format!("{prefix}.events"),
            unrouted_events_queue: format!("{prefix}.events.unrouted"),
            jobs_queue: format!("{prefix}.jobs"),
            jobs_dead_letter_queue: format!("{prefix}.jobs.dead"),
            dead_letter_exchange: format!("{prefix}.dead_letters"),
            reconnect_max_ms: 500,
            relay_poll_interval_ms: 50,
            ..AmqpConfig::default()
        };
        let topology = Topology::new(config.clone());
        topology.declare_commands(&channel).await.unwrap();
        topology.declare_user_events(&channel).await.unwrap();
        topology.declare_events(&channel).await.unwrap();
        Some(Self { url, prefix, config, connection, channel })
    }

    /// `host:port` of the broker, for a proxy in front of it.
    pub fn address(&self) -> String {
        let after_credentials = self.url.rsplit_once('@').map_or(self.url.as_str(), |(_, rest)| rest);
        let without_scheme = after_credentials.trim_start_matches("amqp://");
        without_scheme.split('/').next().unwrap_or("127.0.0.1:5672").to_owned()
    }

    /// Points herald at this broker and this test's names.
    pub fn configure(&self, config: &mut Config) {
        config.amqp_url = Some(Secret::new(&self.url));
        config.amqp = self.config.clone();
    }

    /// The same as [`TestBroker::configure`], as environment for a `herald` process.
    pub fn env(&self) -> Vec<(String, String)> {
        let c = &self.config;
        [
            ("HERALD_AMQP_URL", self.url.as_str()),
            ("HERALD_AMQP__COMMAND_QUEUE", &c.command_queue),
            ("HERALD_AMQP__COMMAND_DEAD_LETTER_QUEUE", &c.command_dead_letter_queue),
            ("HERALD_AMQP__USER_EVENTS_QUEUE", &c.user_events_queue),
            ("HERALD_AMQP__USER_EVENTS_DEAD_LETTER_QUEUE", &c.user_events_dead_letter_queue),
            ("HERALD_AMQP__EVENTS_EXCHANGE", &c.events_exchange),
            ("HERALD_AMQP__UNROUTED_EVENTS_QUEUE", &c.unrouted_events_queue),
            ("HERALD_AMQP__JOBS_QUEUE", &c.jobs_queue),
            ("HERALD_AMQP__JOBS_DEAD_LETTER_QUEUE", &c.jobs_dead_letter_queue),
            ("HERALD_AMQP__DEAD_LETTER_EXCHANGE", &c.dead_letter_exchange),
            ("HERALD_AMQP__RECONNECT_MAX_MS", "500"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Publishes an identity event to the user events queue and waits for the confirm.
    pub async fn publish_user_event(&self, body: &[u8]) {
        let properties = BasicProperties::default().with_delivery_mode(2);
        let confirm = self
            .channel
            .basic_publish(
                "",
                &self.config.user_events_queue,
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack(), "the broker took the event");
    }

    /// Publishes a command and waits for the broker's confirm.
    pub async fn publish_command(&self, body: &[u8], message_id: Option<&str>) {
        let mut properties = BasicProperties::default().with_delivery_mode(2);
        if let Some(id) = message_id {
            properties = properties.with_message_id(ShortString::from(id));
        }
        let confirm = self
            .channel
            .basic_publish("", &self.config.command_queue, BasicPublishOptions::default(), body, properties)
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack(), "the broker took the command");
    }

    /// A consumer bound to every event of this test's exchange.
    pub async fn tap(&self) -> EventTap {
        let channel = self.connection.create_channel().await.unwrap();
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let name = queue.name().as_str().to_owned();
        channel
            .queue_bind(
                &name,
                &self.config.events_exchange,
                "#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let mut consumer = channel
            .basic_consume(
                &name,
                "tap",
                BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let event = TappedEvent {
                    routing_key: delivery.routing_key.as_str().to_owned(),
                    message_id: delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()),
                    kind: delivery.properties.kind().as_ref().map(|s| s.as_str().to_owned()),
                    body: serde_json::from_slice(&delivery.data).unwrap_or(Value::Null),
                };
                sink.lock().unwrap().push(event);
            }
        });
        EventTap { events, _channel: channel }
    }

    /// Takes one message from the command dead-letter queue: its body and rejection reason.
    pub async fn next_dead_letter(&self) -> Option<(Vec<u8>, Option<String>)> {
        self.next_dead_letter_of(&self.config.command_dead_letter_queue).await
    }

    /// Takes one message from a dead-letter queue: its body and rejection reason.
    pub async fn next_dead_letter_of(&self, queue: &str) -> Option<(Vec<u8>, Option<String>)> {
        let message = self.channel.basic_get(queue, BasicGetOptions { no_ack: true }).await.unwrap()?;
        let reason = message.delivery.properties.headers().as_ref().and_then(|headers| {
            match headers.inner().get(herald::amqp::REJECTION_HEADER) {
                Some(AMQPValue::LongString(text)) => Some(text.to_string()),
                _ => None,
            }
        });
        Some((message.delivery.data, reason))
    }

    /// Messages waiting (ready, not delivered) in a queue.
    pub async fn ready_count(&self, queue: &str) -> u32 {
        self.channel
            .queue_declare(
                queue,
                QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count()
    }

    /// Closes, on the broker's side, every connection herald opened for this test (as a
    /// broker restart does to its clients); returns how many.
    pub fn close_herald_connections(&self) -> usize {
        let output = std::process::Command::new("rabbitmqctl")
            .args(["list_connections", "pid", "client_properties", "--no-table-headers", "--quiet"])
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            output.status.success(),
            "rabbitmqctl list_connections: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // One line per connection: the pid, a tab, the client properties.
        let listing = String::from_utf8_lossy(&output.stdout).into_owned();
        let ours: Vec<String> = listing
            .lines()
            .filter(|line| line.contains(&self.prefix) && line.contains("herald "))
            .filter_map(|line| line.split('\t').next().map(|pid| pid.trim().to_owned()))
            .collect();
        for pid in &ours {
            let closed = std::process::Command::new("rabbitmqctl")
                .args(["close_connection", pid, "test: simulated broker restart", "--quiet"])
                .output()
                .expect("rabbitmqctl runs");
            assert!(
                closed.status.success(),
                "rabbitmqctl close_connection {pid}: {}{}",
                String::from_utf8_lossy(&closed.stdout),
                String::from_utf8_lossy(&closed.stderr)
            );
        }
        ours.len()
    }

    /// Deletes this test's queues and exchanges.
    pub async fn cleanup(self) {
        let c = &self.config;
        for queue in [
            &c.command_queue,
            &c.command_dead_letter_queue,
            &c.user_events_queue,
            &c.user_events_dead_letter_queue,
            &c.unrouted_events_queue,
            &c.jobs_queue,
            &c.jobs_dead_letter_queue,
        ] {
            let _ = self.channel.queue_delete(queue, QueueDeleteOptions::default()).await;
        }
        for exchange in [&c.events_exchange, &c.unrouted_events_queue, &c.dead_letter_exchange] {
            let _ = self.channel.exchange_delete(exchange, ExchangeDeleteOptions::default()).await;
        }
        let _ = self.connection.close(200, "test over").await;
    }
}

pub struct EventTap {
    events: Arc<Mutex<Vec<TappedEvent>>>,
    _channel: Channel,
}

impl EventTap {
    pub fn events(&self) -> Vec<TappedEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until `count` events arrived (or fails the test after `deadline`).
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<TappedEvent> {
        let arrived =
            crate::helpers::wait_until(deadline, || async { self.events.lock().unwrap().len() >= count })
                .await;
        let events = self.events();
        assert!(arrived, "expected {count} events, got {}", events.len());
        events
    }
}

/// A TCP proxy in front of RabbitMQ that a test can take down (every connection through it
/// is cut and new ones are refused) and bring back: a broker outage for one test only.
pub struct BrokerProxy {
    pub port: u16,
    state: Arc<Mutex<ProxyState>>,
}

struct ProxyState {
    up: bool,
    /// Cancelled when the proxy goes down: ends every connection of this generation.
    generation: tokio_util::sync::CancellationToken,
}

impl BrokerProxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ProxyState { up: true, generation: Default::default() }));
        let shared = state.clone();
        let upstream = upstream.to_owned();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (up, generation) = {
                    let state = shared.lock().unwrap();
                    (state.up, state.generation.clone())
                };
                if !up {
                    continue; // dropped: the client sees the connection closed at once
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = generation.cancelled() => {}
                    }
                });
            }
        });
        Self { port, state }
    }

    /// The AMQP URL that goes through this proxy.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub fn down(&self) {
        let mut state = self.state.lock().unwrap();
        state.up = false;
        state.generation.cancel();
    }

    pub fn up(&self) {
        let mut state = self.state.lock().unwrap();
        state.up = true;
        state.generation = Default::default();
    }
}
