//! The built-in mock provider: sends nothing, answers like a provider would.
//!
//! Each call waits `latency`, then succeeds with probability `success_rate` and otherwise
//! fails with a retryable error. Tests can queue exact answers with [`MockProvider::push_script`];
//! scripted answers are used first, in order. With [`MockProvider::recording`], every
//! accepted message is kept for inspection. [`MockProvider::named`] and
//! [`MockProvider::serving`] make several distinct mocks for a route with failover.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use herald_domain::{Channel, MessageId};

use crate::ports::{Outbound, Provider, ProviderError, ProviderReceipt};

/// What the mock answers to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockAnswer {
    Accept,
    Retryable(String),
    Permanent(String),
    /// Never answers: a send that hangs its worker (tests of lost leases).
    Hang,
}

/// A message the mock accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockDelivery {
    pub message_id: MessageId,
    pub to: String,
    pub from: Option<String>,
    pub body: String,
    pub content: crate::model::RichContent,
}

#[derive(Debug)]
pub struct MockProvider {
    name: String,
    channels: Vec<Channel>,
    success_rate: f64,
    latency: Duration,
    script: Mutex<VecDeque<MockAnswer>>,
    deliveries: Option<Mutex<Vec<MockDelivery>>>,
    calls: AtomicU64,
}

impl MockProvider {
    pub fn new(success_rate: f64, latency: Duration) -> Self {
        Self {
            name: "mock".into(),
            // The mock stands in for every channel, so `herald serve` sends anything locally.
            channels: Channel::ALL.to_vec(),
            success_rate,
            latency,
            script: Mutex::new(VecDeque::new()),
            deliveries: None,
            calls: AtomicU64::new(0),
        }
    }

    /// Its name in routes, metrics and `provider` fields ("mock" unless renamed).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The channels it serves (every channel unless set).
    pub fn serving(mut self, channels: &[Channel]) -> Self {
        self.channels = channels.to_vec();
        self
    }

    /// Keeps every accepted message in memory (for tests; unbounded).
    pub fn recording(mut self) -> Self {
        self.deliveries = Some(Mutex::new(Vec::new()));
        self
    }

    /// Queues answers for the next calls, before the random behaviour applies again.
    pub fn push_script(&self, answers: impl IntoIterator<Item = MockAnswer>) {
        lock(&self.script).extend(answers);
    }

    /// Provider calls made so far, whatever their answer.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Messages accepted so far (empty unless [`MockProvider::recording`]).
    pub fn deliveries(&self) -> Vec<MockDelivery> {
        self.deliveries.as_ref().map(|d| lock(d).clone()).unwrap_or_default()
    }

    fn next_answer(&self) -> MockAnswer {
        if let Some(answer) = lock(&self.script).pop_front() {
            return answer;
        }
        if self.success_rate >= 1.0 || rand::random::<f64>() < self.success_rate {
            MockAnswer::Accept
        } else {
            MockAnswer::Retryable("mock: simulated provider failure".into())
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the data half-updated, so poisoning is moot.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    async fn send(&self, message: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match self.next_answer() {
            MockAnswer::Accept => {
                if let Some(deliveries) = &self.deliveries {
                    lock(deliveries).push(MockDelivery {
                        message_id: message.message_id,
                        to: message.to.as_str().to_owned(),
                        from: message.from.map(str::to_owned),
                        body: message.text.to_owned(),
                        content: message.content.clone(),
                    });
                }
                Ok(ProviderReceipt {
                    provider_message_id: Some(format!("{}-{}", self.name, message.message_id)),
                })
            }
            MockAnswer::Retryable(reason) => Err(ProviderError::Retryable { reason, retry_after: None }),
            MockAnswer::Permanent(reason) => Err(ProviderError::Permanent { reason }),
            MockAnswer::Hang => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_CONTENT: crate::model::RichContent = crate::model::RichContent {
        subject: None,
        html: None,
        reply_to: None,
        unsubscribe_url: None,
        data: std::collections::BTreeMap::new(),
    };

    fn sms(id: MessageId, to: &herald_domain::Recipient) -> Outbound<'_> {
        Outbound {
            message_id: id,
            channel: Channel::Sms,
            to,
            from: Some("MB"),
            text: "hi",
            content: &NO_CONTENT,
        }
    }

    fn phone() -> herald_domain::Recipient {
        herald_domain::Recipient::from_stored(Channel::Sms, "+31633450007".into())
    }

    #[tokio::test]
    async fn scripted_answers_come_first_then_the_success_rate_applies() {
        let mock = MockProvider::new(1.0, Duration::ZERO).recording();
        mock.push_script([MockAnswer::Retryable("boom".into()), MockAnswer::Permanent("bad".into())]);
        let (id, to) = (MessageId::new(), phone());
        assert!(matches!(mock.send(&sms(id, &to)).await, Err(ProviderError::Retryable { .. })));
        assert!(matches!(mock.send(&sms(id, &to)).await, Err(ProviderError::Permanent { .. })));
        assert!(mock.send(&sms(id, &to)).await.is_ok());
        assert_eq!(mock.calls(), 3);
        assert_eq!(mock.deliveries().len(), 1);
        assert_eq!(mock.deliveries()[0].message_id, id);
    }

    #[tokio::test]
    async fn zero_success_rate_always_fails_retryably() {
        let mock = MockProvider::new(0.0, Duration::ZERO);
        let to = phone();
        for _ in 0..20 {
            assert!(matches!(
                mock.send(&sms(MessageId::new(), &to)).await,
                Err(ProviderError::Retryable { .. })
            ));
        }
    }
}
