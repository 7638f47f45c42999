//! The AMQP job transport (`job_transport = "amqp"`): due message ids travel through a
//! quorum queue from a feeder to the workers, instead of every worker claiming rows.
//!
//! The database row stays the source of truth:
//! - the feeder claims due messages under the transport's own lease owner, publishes their
//!   ids (confirmed), and keeps the queue topped up to a target, no more;
//! - a worker takes a batch of deliveries, moves the leases of those ids from the transport
//!   to itself, sends, commits, then acknowledges. An id whose row is no longer the
//!   transport's (already final, retrying later, or taken by another worker after a
//!   redelivery) is acknowledged and skipped;
//! - a worker that dies leaves its rows leased; the lease expires, the sweep makes them
//!   `pending`, and the feeder publishes them again. Nothing depends on the queue keeping a
//!   message: a lost or dead-lettered id only delays its message until its lease expires.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use chrono::Utc;
use herald_domain::MessageId;
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions,
    },
    types::{FieldTable, ShortString},
    BasicProperties, Channel, Connection,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{connect, connected, next_batch, supervise, BrokerStatus, Topology};
use crate::{config::DispatchConfig, dispatch::Dispatcher, metrics::Metrics, ports::Store};

/// Lease owner of messages whose ids are in the jobs queue.
pub const TRANSPORT_OWNER: &str = "amqp-transport";

pub struct JobTransport {
    pub url: String,
    pub topology: Topology,
    pub store: Arc<dyn Store>,
    pub dispatcher: Arc<Dispatcher>,
    pub dispatch: DispatchConfig,
    pub metrics: Arc<Metrics>,
    pub status: Arc<BrokerStatus>,
    /// Wakes the feeder when new work arrives.
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for JobTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTransport")
            .field("queue", &self.topology.config().jobs_queue)
            .finish_non_exhaustive()
    }
}

impl JobTransport {
    /// Feeds, consumes and sweeps expired leases until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let max_backoff = Duration::from_millis(this.topology.config().reconnect_max_ms);
        let listener = {
            let (store, wake, shutdown) = (this.store.clone(), this.wake.clone(), shutdown.clone());
            tokio::spawn(async move { store.listen_for_work(wake, shutdown).await })
        };
        let feeder = supervise(
            "jobs-feeder",
            this.status.clone(),
            this.metrics.clone(),
            max_backoff,
            shutdown.clone(),
            || {
                let (this, shutdown) = (this.clone(), shutdown.clone());
                async move { this.feeder_session(&shutdown).await }
            },
        );
        let consumer = supervise(
            "jobs-consumer",
            this.status.clone(),
            this.metrics.clone(),
            max_backoff,
            shutdown.clone(),
            || {
                let (this, shutdown) = (this.clone(), shutdown.clone());
                async move { this.consumer_session(&shutdown).await }
            },
        );
        tokio::join!(feeder, consumer, this.sweeper(&shutdown));
        let _ = listener.await;
    }

    async fn sweeper(&self, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            self.dispatcher.sweep_expired_leases().await;
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(self.dispatch.lease() / 2) => {}
            }
        }
    }

    /// Ready ids the feeder keeps in the queue: enough for every consumer's next batches,
    /// few enough that none waits in the queue anywhere near a lease.
    fn target_depth(&self) -> u32 {
        self.dispatch.batch_size.saturating_mul(2)
    }

    async fn feeder_session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let config = self.topology.config();
        let connection = connect(&self.url, &format!("herald jobs feeder {}", config.jobs_queue)).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        self.topology.declare_jobs(&channel).await?;
        connected("jobs-feeder", &self.status, &self.metrics);
        while !shutdown.is_cancelled() {
            let waiting = channel
                .queue_declare(
                    &config.jobs_queue,
                    QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() },
                    FieldTable::default(),
                )
                .await?
                .message_count();
            let room = self.target_depth().saturating_sub(waiting).min(self.dispatch.batch_size);
            let fed = if room == 0 { 0 } else { self.feed(&channel, room).await? };
            if fed < room as usize || room == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.dispatch.poll_interval()) => {}
                }
            }
        }
        let _ = connection.close(200, "herald is shutting down").await;
        Ok(())
    }

    /// Claims up to `limit` due messages for the transport and publishes their ids.
    async fn feed(&self, channel: &Channel, limit: u32) -> anyhow::Result<usize> {
        let now = Utc::now();
        let batch = self
            .store
            .claim_due_messages(TRANSPORT_OWNER, now, now + self.dispatch.lease(), limit)
            .await
            .context("claiming due messages for the jobs queue")?;
        let ids: Vec<MessageId> = batch.iter().map(|m| m.id).collect();
        if let Err(error) = publish_ids(channel, &self.topology.config().jobs_queue, &ids).await {
            // Not (all) confirmed: give them back now rather than after their lease.
            let released = self.store.release_leases(TRANSPORT_OWNER, &ids, Utc::now()).await;
            tracing::warn!(?released, "jobs not confirmed by the broker were released");
            return Err(error);
        }
        Ok(ids.len())
    }

    async fn consumer_session(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let config = self.topology.config();
        let connection = connect(&self.url, &format!("herald jobs consumer {}", config.jobs_queue)).await?;
        // Each pipeline consumes on its own channel: while one batch waits on the provider,
        // another is collected, sent or committed.
        let mut lanes = Vec::with_capacity(self.dispatch.pipelines);
        for _ in 0..self.dispatch.pipelines {
            lanes.push(self.open_lane(&connection).await?);
        }
        connected("jobs-consumer", &self.status, &self.metrics);
        let results = futures::future::join_all(
            lanes.into_iter().map(|(channel, tag, consumer)| self.lane(channel, tag, consumer, shutdown)),
        )
        .await;
        let _ = connection.close(200, "herald is shutting down").await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    async fn open_lane(&self, connection: &Connection) -> anyhow::Result<(Channel, String, lapin::Consumer)> {
        let config = self.topology.config();
        let channel = connection.create_channel().await?;
        self.topology.declare_jobs(&channel).await?;
        let prefetch = u16::try_from(self.dispatch.batch_size).unwrap_or(u16::MAX).max(config.prefetch);
        channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let tag = format!("herald-jobs-{}", uuid::Uuid::now_v7().simple());
        let consumer = channel
            .basic_consume(&config.jobs_queue, &tag, BasicConsumeOptions::default(), FieldTable::default())
            .await?;
        Ok((channel, tag, consumer))
    }

    /// Takes batches of deliveries from one consumer and processes them, until shutdown.
    async fn lane(
        &self,
        channel: Channel,
        tag: String,
        mut consumer: lapin::Consumer,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let budget = self.dispatcher.batch_budget().max(1) as usize;
            let Some(deliveries) = next_batch(&mut consumer, budget, shutdown).await? else { break };
            self.process(&deliveries, shutdown).await?;
            if let Some(last) = deliveries.last() {
                // All of this lane's deliveries up to the last are in this batch.
                last.ack(BasicAckOptions { multiple: true }).await?;
            }
        }
        // Stop deliveries; the ones prefetched but not taken go back to the queue when the
        // channel closes.
        let _ = channel.basic_cancel(&tag, BasicCancelOptions::default()).await;
        Ok(())
    }

    async fn process(&self, deliveries: &[Delivery], shutdown: &CancellationToken) -> anyhow::Result<()> {
        let ids: Vec<MessageId> = deliveries
            .iter()
            .filter_map(|d| std::str::from_utf8(&d.data).ok().and_then(|text| text.parse().ok()))
            .collect();
        if ids.len() < deliveries.len() {
            tracing::warn!(
                count = deliveries.len() - ids.len(),
                "jobs queue held deliveries that are no message id"
            );
        }
        let now = Utc::now();
        let owner = self.dispatcher.owner();
        let batch = self
            .store
            .take_over_leases(&ids, TRANSPORT_OWNER, owner, now + self.dispatch.lease(), now)
            .await
            .context("taking over leases from the jobs queue")?;
        self.metrics.amqp_job("skipped", (deliveries.len() - batch.len()) as u64);
        let held = batch.len();
        self.dispatcher.process_claimed(batch, shutdown).await.context("sending a jobs batch")?;
        self.metrics.amqp_job("processed", held as u64);
        Ok(())
    }
}

/// Publishes message ids to `queue` (persistent) and waits for every confirm.
async fn publish_ids(channel: &Channel, queue: &str, ids: &[MessageId]) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(ids.len());
    for id in ids {
        let text = id.to_string();
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(text.as_str()))
            .with_content_type(ShortString::from("text/plain"))
            .with_delivery_mode(2);
        confirms.push(
            channel
                .basic_publish("", queue, BasicPublishOptions::default(), text.as_bytes(), properties)
                .await?,
        );
    }
    for confirm in confirms {
        anyhow::ensure!(confirm.await?.is_ack(), "the broker refused a job (nack)");
    }
    Ok(())
}
