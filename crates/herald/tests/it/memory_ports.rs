//! In-memory implementations of the command source and the event publisher ports, for
//! testing the command and relay services without a broker. They record what the service
//! did (settlements, publishes) and what the store held at that moment, so a test can
//! assert the order (stored, then acknowledged; confirmed, then marked).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use herald::{
    model::StoredEvent,
    ports::{
        CommandDelivery, CommandSource, CommandSourceError, EventPublisher, Publication, PublishError,
        Settle, Stopped, Store,
    },
};
use tokio_util::sync::CancellationToken;

/// How the service settled a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Acked,
    DeadLettered(String),
    Requeued,
}

/// One settlement: the delivery's payload, how it was settled, and how many messages the
/// store held when it was.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub payload: String,
    pub settled: Settled,
    pub messages_stored: u64,
}

/// A command queue: deliveries pushed before the service runs, handed out in batches; the
/// source ends once it is empty.
pub struct MemoryCommands {
    waiting: VecDeque<CommandDelivery>,
    log: Arc<Mutex<Vec<Settlement>>>,
    store: Arc<dyn Store>,
}

impl MemoryCommands {
    /// `store` is the one the service writes to: each settlement notes its message count.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { waiting: VecDeque::new(), log: Arc::default(), store }
    }

    pub fn push(&mut self, payload: &str, message_id: Option<&str>) {
        let settle =
            MemorySettle { payload: payload.to_owned(), log: self.log.clone(), store: self.store.clone() };
        let delivery = CommandDelivery::new(
            payload.as_bytes().to_vec(),
            message_id.map(str::to_owned),
            BTreeMap::new(),
            settle,
        );
        self.waiting.push_back(delivery);
    }

    pub fn settlements(&self) -> Vec<Settlement> {
        self.log.lock().unwrap().clone()
    }
}

#[async_trait]
impl CommandSource for MemoryCommands {
    async fn next_batch(
        &mut self,
        max: usize,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<CommandDelivery>>, CommandSourceError> {
        if shutdown.is_cancelled() || self.waiting.is_empty() {
            return Ok(None);
        }
        let take = max.min(self.waiting.len());
        Ok(Some(self.waiting.drain(..take).collect()))
    }
}

struct MemorySettle {
    payload: String,
    log: Arc<Mutex<Vec<Settlement>>>,
    store: Arc<dyn Store>,
}

impl MemorySettle {
    async fn record(self, settled: Settled) -> Result<(), CommandSourceError> {
        let messages_stored = self.store.status_counts().await.map_err(CommandSourceError::new)?.total();
        self.log.lock().unwrap().push(Settlement { payload: self.payload, settled, messages_stored });
        Ok(())
    }
}

#[async_trait]
impl Settle for MemorySettle {
    async fn ack(self: Box<Self>) -> Result<(), CommandSourceError> {
        self.record(Settled::Acked).await
    }

    async fn dead_letter(self: Box<Self>, _payload: &[u8], reason: &str) -> Result<(), CommandSourceError> {
        self.record(Settled::DeadLettered(reason.to_owned())).await
    }

    async fn requeue(self: Box<Self>) -> Result<(), CommandSourceError> {
        self.record(Settled::Requeued).await
    }
}

/// What the next `publish` call does.
#[derive(Debug, Clone, Copy)]
pub enum Script {
    /// The publisher fails (a lost connection): nothing confirmed.
    Fail,
    /// Confirms the first `n` events, then stops for this reason.
    StopAfter(usize, Stopped),
}

/// One `publish` call: the events' sequences, and how many events waited in the outbox
/// when the publisher confirmed them.
#[derive(Debug, Clone)]
pub struct PublishCall {
    pub sequences: Vec<i64>,
    pub waiting_at_confirm: u64,
}

/// An event bus that confirms everything unless scripted otherwise.
pub struct MemoryEvents {
    script: VecDeque<Script>,
    calls: Vec<PublishCall>,
    /// The events confirmed, in the order they were.
    pub confirmed: Vec<i64>,
    store: Arc<dyn Store>,
}

impl MemoryEvents {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { script: VecDeque::new(), calls: Vec::new(), confirmed: Vec::new(), store }
    }

    pub fn then(mut self, step: Script) -> Self {
        self.script.push_back(step);
        self
    }

    pub fn calls(&self) -> &[PublishCall] {
        &self.calls
    }
}

#[async_trait]
impl EventPublisher for MemoryEvents {
    async fn publish(&mut self, events: &[StoredEvent]) -> Result<Publication, PublishError> {
        let waiting_at_confirm = self.store.outbox_backlog().await.map_err(PublishError::new)?.0;
        self.calls
            .push(PublishCall { sequences: events.iter().map(|e| e.sequence).collect(), waiting_at_confirm });
        let publication = match self.script.pop_front() {
            Some(Script::Fail) => return Err(PublishError("the test bus is down".into())),
            Some(Script::StopAfter(n, why)) => {
                Publication { confirmed: n.min(events.len()), stopped: Some(why) }
            }
            None => Publication::all(events),
        };
        self.confirmed.extend(events[..publication.confirmed].iter().map(|e| e.sequence));
        Ok(publication)
    }
}
