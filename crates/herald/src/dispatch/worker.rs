//! The worker loop: claim a batch under a lease, send each message through the first
//! provider of its route that takes it (many in flight at once), then commit every result
//! of the batch in one transaction.
//!
//! A crash between a provider's answer and that commit leaves the lease to expire; the
//! message is then claimed again and sent a second time. That is the one source of
//! duplicates, and it is bounded by the batch in flight.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::Utc;
use futures::{stream, StreamExt};
use herald_domain::{
    retry::RetryDecision, CampaignId, Channel, CustomerId, MessageId, Recipient, RetryPolicy, Template,
};
use tokio::{
    sync::{Notify, Semaphore},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    guard::{ClaimBudget, Deferral, GuardedError},
    router::{RoutedProvider, Router},
};
use crate::{
    config::{ChannelsConfig, Config, DispatchConfig, ProviderEntry, Routing},
    metrics::Metrics,
    model::{AttemptOutcome, AttemptResult, CampaignLink, ClaimedMessage, LeaseSweep, RenderedMessage},
    ports::{Outbound, Provider, ProviderError, ProviderReceipt, Store, StoreResult},
    services::events,
};

/// The provider named on a message no route serves.
const NO_PROVIDER: &str = "none";

/// Attempts at committing one batch's results before the batch is left to its leases.
const COMMIT_TRIES: u32 = 5;

/// Longest provider error text kept in `last_error`, the timeline and events.
const MAX_ERROR_CHARS: usize = 500;

pub struct Dispatcher {
    store: Arc<dyn Store>,
    router: Router,
    config: DispatchConfig,
    channels: PerChannel,
    metrics: Arc<Metrics>,
    /// Lease owner name: unique per process start.
    owner: String,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("owner", &self.owner).finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher with one provider on every channel it serves, under the single
    /// `[provider]` section's limits (tools and examples).
    pub fn new(
        store: Arc<dyn Store>,
        provider: Arc<dyn Provider>,
        config: &Config,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Self {
        let entry = ProviderEntry {
            name: provider.name().to_owned(),
            channels: provider.channels().to_vec(),
            ..ProviderEntry::from_legacy(&config.provider, &config.mock_provider)
        };
        Self::with_routing(store, &Routing::single(entry), vec![provider], config, metrics, wake)
    }

    /// A dispatcher for `routing`, `providers[i]` being the adapter of `routing.providers[i]`
    /// (see [`crate::providers::assemble`]).
    pub fn with_routing(
        store: Arc<dyn Store>,
        routing: &Routing,
        providers: Vec<Arc<dyn Provider>>,
        config: &Config,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Self {
        let dispatch = config.dispatch.clone();
        let router =
            Router::new(routing, providers, &dispatch, store.shared_rate_limits().as_ref(), &metrics);
        let owner = format!("worker-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        let channels = PerChannel::new(&dispatch, &config.channels);
        Self { store, router, config: dispatch, channels, metrics, owner, wake }
    }

    /// A read-only handle on the providers' circuit breakers, for the API of this process.
    pub fn breakers(&self) -> super::router::Breakers {
        self.router.breakers()
    }

    /// Runs until `shutdown` fires. Between two batches each pipeline checks for shutdown; a
    /// batch already claimed is finished and committed first. Expired leases are swept
    /// every half lease by a task of their own, so a pipeline stuck on a send that never
    /// ends does not stop this process from recovering the messages of dead workers.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(owner = %self.owner, pipelines = self.config.pipelines, "dispatcher started");
        let this = Arc::new(self);
        let listener = {
            let (store, wake, shutdown) = (this.store.clone(), this.wake.clone(), shutdown.clone());
            tokio::spawn(async move { store.listen_for_work(wake, shutdown).await })
        };
        let sweeper = tokio::spawn(Arc::clone(&this).sweeper(shutdown.clone()));
        // Several batches in flight at once: while one waits on the provider, another
        // claims or commits. The guard's concurrency budget bounds them together.
        let pipelines: Vec<_> = (0..this.config.pipelines)
            .map(|pipeline| tokio::spawn(Arc::clone(&this).pipeline(pipeline, shutdown.clone())))
            .collect();
        for pipeline in pipelines {
            if let Err(error) = pipeline.await {
                tracing::error!(%error, "a dispatch pipeline panicked");
            }
        }
        let _ = listener.await;
        let _ = sweeper.await;
        tracing::info!(owner = %this.owner, "dispatcher stopped");
    }

    async fn sweeper(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            self.sweep_expired_leases().await;
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(self.config.lease() / 2) => {}
            }
        }
    }

    async fn pipeline(self: Arc<Self>, pipeline: usize, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let pause = match self.process_batch(&shutdown).await {
                // More may be due: claim again at once.
                Ok(claimed) if claimed > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    self.config.poll_interval()
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(%error, pipeline, "dispatch cycle failed; backing off");
                    self.config.poll_interval() * failures.min(20)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Processes batches until nothing is due.
    pub async fn drain(&self) -> StoreResult<()> {
        let never = CancellationToken::new();
        while self.process_batch(&never).await? > 0 {}
        Ok(())
    }

    /// Claims, sends and records one batch; returns how many messages it held (0: none due).
    pub async fn process_batch(&self, shutdown: &CancellationToken) -> StoreResult<usize> {
        let now = Utc::now();
        let lease_until = now + self.config.lease();
        let limit = match self.router.claim_budget(self.config.batch_size, self.config.lease()) {
            ClaimBudget::Claim(0) => return Ok(0),
            ClaimBudget::Claim(limit) => limit,
            // Every provider's breaker is open: the backlog waits in the database.
            ClaimBudget::WaitUntil(_) => return Ok(0),
        };
        let batch = self.store.claim_due_messages(&self.owner, now, lease_until, limit).await?;
        self.process_claimed(batch, shutdown).await
    }

    /// This worker's lease owner name.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How many messages a batch may hold now (0 while every provider's breaker is open).
    pub fn batch_budget(&self) -> u32 {
        match self.router.claim_budget(self.config.batch_size, self.config.lease()) {
            ClaimBudget::Claim(limit) => limit,
            ClaimBudget::WaitUntil(_) => 0,
        }
    }

    /// Sends and records a batch whose leases this worker holds; returns its size.
    pub async fn process_claimed(
        &self,
        batch: Vec<ClaimedMessage>,
        shutdown: &CancellationToken,
    ) -> StoreResult<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let claimed: Vec<MessageId> = batch.iter().map(|m| m.id).collect();
        let held = claimed.len();
        let batch = self.render_campaign_messages(batch).await?;
        let campaigns: HashSet<CampaignId> =
            batch.iter().filter_map(|m| m.campaign.map(|c| c.campaign_id)).collect();
        // What the metrics count of each message once sent: its channel and SMS parts.
        let channels: HashMap<MessageId, (Channel, Option<u32>)> =
            batch.iter().map(|m| (m.id, (m.channel, m.segments))).collect();
        let outcomes = self.send_batch(batch, shutdown).await;
        let applied = self.commit(&outcomes).await?;
        self.count(&outcomes, &channels);
        if !campaigns.is_empty() {
            let campaigns: Vec<CampaignId> = campaigns.into_iter().collect();
            let ended = self.store.finish_campaigns(&campaigns, Utc::now()).await?;
            if ended > 0 {
                tracing::info!(ended, "campaigns finished");
            }
        }
        if applied as usize != outcomes.len() {
            tracing::warn!(
                claimed = claimed.len(),
                applied,
                "some results were dropped: their leases had expired"
            );
        }
        if outcomes.len() < claimed.len() {
            // Shutdown: give back what was not sent (or not answered in the grace period) at
            // once, instead of leaving it to lease expiry.
            let done: HashSet<MessageId> = outcomes.iter().map(|o| o.message_id).collect();
            let unfinished: Vec<MessageId> = claimed.into_iter().filter(|id| !done.contains(id)).collect();
            let released = self.store.release_leases(&self.owner, &unfinished, Utc::now()).await?;
            tracing::info!(released, "released unsent messages on shutdown");
        }
        Ok(held)
    }

    /// Renders the campaign messages of a batch that have no body yet, from their
    /// campaign's template and their customer as they are now, and stores the text before
    /// anything is sent (the brief's `rendered_content`).
    async fn render_campaign_messages(
        &self,
        mut batch: Vec<ClaimedMessage>,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        let unrendered: Vec<usize> =
            (0..batch.len()).filter(|&i| batch[i].campaign.is_some() && batch[i].body.is_empty()).collect();
        if unrendered.is_empty() {
            return Ok(batch);
        }
        let links: Vec<CampaignLink> = unrendered.iter().filter_map(|&i| batch[i].campaign).collect();
        let campaigns: Vec<CampaignId> =
            links.iter().map(|l| l.campaign_id).collect::<HashSet<_>>().into_iter().collect();
        let customers: Vec<CustomerId> =
            links.iter().map(|l| l.customer_id).collect::<HashSet<_>>().into_iter().collect();
        let (sources, customers) = self.store.render_inputs(&campaigns, &customers).await?;
        // Templates were checked when the campaign was created; one that no longer parses
        // renders empty, and an empty message fails permanently when sent.
        let templates: HashMap<CampaignId, Template> = sources
            .iter()
            .filter_map(|(id, source)| Template::parse(source).ok().map(|t| (*id, t)))
            .collect();
        let mut bodies = Vec::with_capacity(unrendered.len());
        for i in unrendered {
            let Some(link) = batch[i].campaign else { continue };
            let body = match (templates.get(&link.campaign_id), customers.get(&link.customer_id)) {
                (Some(template), Some(customer)) => {
                    let values = customer.template_values();
                    template.render(|name| values.get(name).map(String::as_str))
                }
                _ => String::new(),
            };
            // The route's sender, and smart encoding where the route says so (when that
            // keeps the text valid).
            let route = self.router.route(batch[i].channel, batch[i].recipient.as_str());
            let smart = route.is_some_and(|route| route.smart_encoding);
            let sender = route.and_then(|route| route.sender.clone());
            let body = match herald_domain::smart_encode(&body) {
                std::borrow::Cow::Owned(text)
                    if smart && text.chars().count() <= herald_domain::MessageBody::MAX_CHARS =>
                {
                    text
                }
                _ => body,
            };
            let segments = crate::model::sms_segments(batch[i].channel, &body);
            batch[i].body.clone_from(&body);
            batch[i].segments = segments;
            if sender.is_some() {
                batch[i].sender.clone_from(&sender);
            }
            bodies.push(RenderedMessage { id: batch[i].id, body, sender, segments });
        }
        self.store.save_rendered(&bodies, Utc::now()).await?;
        Ok(batch)
    }

    /// Sends a claimed batch, up to `concurrency` at once. Once `shutdown` fires no new
    /// send starts, and sends still running after the grace period are abandoned; the
    /// outcomes returned are those that finished.
    async fn send_batch(
        &self,
        batch: Vec<ClaimedMessage>,
        shutdown: &CancellationToken,
    ) -> Vec<AttemptOutcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut sends = stream::iter(batch)
            .map(|message| async move {
                if shutdown.is_cancelled() {
                    None
                } else {
                    Some(self.attempt(message).await)
                }
            })
            .buffer_unordered(self.config.concurrency);
        let grace_over = async {
            shutdown.cancelled().await;
            tokio::time::sleep(self.config.shutdown_grace()).await;
        };
        tokio::pin!(grace_over);
        loop {
            tokio::select! {
                next = sends.next() => match next {
                    Some(Some(outcome)) => outcomes.push(outcome),
                    Some(None) => {}
                    None => break,
                },
                () = &mut grace_over => {
                    tracing::warn!("shutdown grace period over: abandoning sends still in flight");
                    break;
                }
            }
        }
        outcomes
    }

    /// Commits a batch's results, retrying a failed commit: giving up means every message
    /// of the batch is sent again once its lease expires.
    async fn commit(&self, outcomes: &[AttemptOutcome]) -> StoreResult<u64> {
        let mut delay = Duration::from_millis(50);
        let mut tries = 1;
        loop {
            match self.store.record_outcomes(&self.owner, outcomes).await {
                Ok(applied) => return Ok(applied),
                Err(error) if tries < COMMIT_TRIES => {
                    tracing::warn!(%error, tries, "committing a batch failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    tries += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn count(&self, outcomes: &[AttemptOutcome], channels: &HashMap<MessageId, (Channel, Option<u32>)>) {
        for outcome in outcomes {
            match &outcome.result {
                AttemptResult::Sent { provider, .. } => {
                    let (channel, segments) = channels.get(&outcome.message_id).copied().unzip();
                    let channel = channel.map_or("unknown", Channel::as_str);
                    self.metrics.message_sent(channel, provider, segments.flatten());
                }
                AttemptResult::RetryScheduled { provider, .. } => self.metrics.attempt_retried(provider),
                AttemptResult::Failed { provider, .. } => self.metrics.message_dead_lettered(provider),
                AttemptResult::Deferred { .. } => {}
            }
        }
    }

    /// Sweeps messages whose lease expired (their worker died or hung): each lost lease is
    /// a lost attempt, retried like a failed one while retries are left, then `failed`.
    pub async fn sweep_expired_leases(&self) {
        let provider = self.router.sweep_provider();
        let failed_event = |message: &ClaimedMessage, error: &str, at| {
            events::notification_failed(message, provider, error, at, false)
        };
        let sweep = LeaseSweep {
            now: Utc::now(),
            max_retries: self.channels.max_retries(),
            provider,
            uncounted_owner: crate::amqp::transport::TRANSPORT_OWNER,
            failed_event: &failed_event,
        };
        let swept = match self.store.requeue_expired_leases(&sweep).await {
            Ok(swept) => swept,
            Err(error) => {
                tracing::error!(%error, "could not sweep expired leases");
                return;
            }
        };
        if swept.total() == 0 {
            return;
        }
        tracing::warn!(
            retried = swept.retried,
            requeued = swept.requeued,
            failed = swept.failed,
            "swept messages whose lease expired (their worker died or hung)"
        );
        for _ in 0..swept.retried {
            self.metrics.attempt_retried(provider);
        }
        for _ in 0..swept.failed {
            self.metrics.message_dead_lettered(provider);
        }
        // A campaign whose last messages failed here has no batch left to finish it.
        if !swept.campaigns.is_empty() {
            match self.store.finish_campaigns(&swept.campaigns, Utc::now()).await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "campaigns finished"),
                Err(error) => tracing::error!(%error, "could not finish campaigns after a lease sweep"),
            }
        }
    }

    async fn attempt(&self, message: ClaimedMessage) -> AttemptOutcome {
        // A debug span: at the default level this costs nothing per message; the events that
        // matter at info and warn carry the message id themselves.
        let span = tracing::debug_span!(
            "attempt",
            message_id = %message.id,
            attempt = message.retry_count + 1,
            provider = tracing::field::Empty,
        );
        async {
            let channel = self.channels.get(message.channel);
            // The channel's budget first: a slow channel waits for its own slots without
            // holding the providers'.
            let _slot = channel.slots.acquire().await.ok();
            let (result, at) = self.attempt_on_route(&message, &channel.policy).await;
            AttemptOutcome { message_id: message.id, account_id: message.account_id, at, result }
        }
        .instrument(span)
        .await
    }

    /// Tries the providers of the message's route in order: one whose breaker is open is
    /// passed over, and so is one refusing the message permanently for a reason the route
    /// lets another provider serve. The first real answer decides. Returns the result and
    /// when it was decided (the time of the outcome, its events and its retry delay).
    async fn attempt_on_route(
        &self,
        message: &ClaimedMessage,
        policy: &RetryPolicy,
    ) -> (AttemptResult, chrono::DateTime<Utc>) {
        let recipient = &message.recipient;
        let Some(route) = self.router.route(message.channel, recipient.as_str()) else {
            let reason = format!("no provider configured for channel {}", message.channel);
            let at = Utc::now();
            return (self.failed(message, NO_PROVIDER, reason, at), at);
        };
        let first = self.router.provider(route.providers[0]).name();
        if message.body.trim().is_empty() {
            let at = Utc::now();
            return (self.failed(message, first, "the rendered message is empty".into(), at), at);
        }
        let mut deferred: Option<(&str, chrono::DateTime<Utc>)> = None;
        let last = route.providers.len() - 1;
        for (position, &index) in route.providers.iter().enumerate() {
            let routed = self.router.provider(index);
            let provider = routed.name();
            tracing::Span::current().record("provider", provider);
            let answer = routed.guard.call(self.call_provider(routed, message, recipient)).await;
            let at = Utc::now();
            match answer {
                Ok(receipt) => {
                    tracing::debug!("provider accepted");
                    let id = receipt.provider_message_id;
                    let events = events::message_sent(message, provider, id.as_deref(), at);
                    let sent = AttemptResult::Sent {
                        provider: provider.to_owned(),
                        provider_message_id: id,
                        events,
                    };
                    return (sent, at);
                }
                Err(GuardedError::Deferred { until, why: Deferral::RateLimited }) => {
                    // Saturated, not broken: the message waits for this provider.
                    let reason = Deferral::RateLimited.reason().into();
                    return (AttemptResult::Deferred { provider: provider.to_owned(), reason, until }, at);
                }
                Err(GuardedError::Deferred { until, why: Deferral::BreakerOpen }) => {
                    if deferred.is_none_or(|(_, earliest)| until < earliest) {
                        deferred = Some((provider, until));
                    }
                    if position < last {
                        self.metrics.provider_failover(provider, "breaker_open");
                    }
                }
                Err(GuardedError::Provider(error)) => match sanitize_error(error) {
                    ProviderError::Permanent { reason }
                        if position < last && route.failover_on_permanent.covers(&reason) =>
                    {
                        tracing::info!(message_id = %message.id, provider, error = %reason, "refused permanently; trying the next provider");
                        self.metrics.provider_failover(provider, "permanent");
                    }
                    error => return (self.after_error(message, policy, provider, error, at), at),
                },
            }
        }
        match deferred {
            // No provider of the route could take it now: it waits, uncounted, for the
            // earliest breaker to let calls through again.
            Some((provider, until)) => {
                let reason = Deferral::BreakerOpen.reason().into();
                (AttemptResult::Deferred { provider: provider.to_owned(), reason, until }, Utc::now())
            }
            // Unreachable: the last provider's answer always decides.
            None => {
                let at = Utc::now();
                (self.failed(message, first, "no provider of the route took the message".into(), at), at)
            }
        }
    }

    fn after_error(
        &self,
        message: &ClaimedMessage,
        policy: &RetryPolicy,
        provider: &str,
        error: ProviderError,
        at: chrono::DateTime<Utc>,
    ) -> AttemptResult {
        match error {
            ProviderError::Retryable { reason, retry_after } => {
                match policy.after_failure(message.retry_count, rand::random(), retry_after) {
                    RetryDecision::RetryAfter(delay) => {
                        tracing::info!(message_id = %message.id, provider, error = %reason, ?delay, "attempt failed; retry scheduled");
                        let next_attempt_at = at + delay;
                        AttemptResult::RetryScheduled {
                            provider: provider.to_owned(),
                            error: reason,
                            next_attempt_at,
                        }
                    }
                    RetryDecision::GiveUp => {
                        tracing::warn!(message_id = %message.id, provider, error = %reason, "attempt failed; out of retries");
                        self.failed(message, provider, reason, at)
                    }
                }
            }
            ProviderError::Permanent { reason } => {
                tracing::warn!(message_id = %message.id, provider, error = %reason, "attempt failed permanently");
                self.failed(message, provider, reason, at)
            }
            ProviderError::RecipientInvalid { reason } => {
                tracing::warn!(message_id = %message.id, provider, error = %reason, "the recipient is invalid");
                let event = events::notification_failed(message, provider, &reason, at, true);
                AttemptResult::Failed { provider: provider.to_owned(), error: reason, event }
            }
        }
    }

    fn failed(
        &self,
        message: &ClaimedMessage,
        provider: &str,
        error: String,
        at: chrono::DateTime<Utc>,
    ) -> AttemptResult {
        let event = events::notification_failed(message, provider, &error, at, false);
        AttemptResult::Failed { provider: provider.to_owned(), error, event }
    }

    async fn call_provider(
        &self,
        routed: &RoutedProvider,
        message: &ClaimedMessage,
        recipient: &Recipient,
    ) -> Result<ProviderReceipt, ProviderError> {
        let outbound = Outbound {
            message_id: message.id,
            channel: message.channel,
            to: recipient,
            from: message.sender.as_deref(),
            text: &message.body,
            content: &message.content,
        };
        let timeout = routed.timeout;
        let started = Instant::now();
        let answer = tokio::time::timeout(timeout, routed.provider.send(&outbound)).await;
        self.metrics.provider_answered(routed.name(), started.elapsed());
        match answer {
            Ok(answer) => answer,
            Err(_) => Err(ProviderError::Retryable {
                reason: format!("provider did not answer within {} ms", timeout.as_millis()),
                retry_after: None,
            }),
        }
    }
}

/// What the dispatcher keeps for one channel.
#[derive(Debug)]
struct ChannelState {
    policy: RetryPolicy,
    /// The channel's bulkhead: sends of this channel in flight at once.
    slots: Semaphore,
}

#[derive(Debug)]
struct PerChannel([ChannelState; 4]);

impl PerChannel {
    const ORDER: [Channel; 4] = [Channel::Sms, Channel::Whatsapp, Channel::Email, Channel::Push];

    fn new(dispatch: &DispatchConfig, channels: &ChannelsConfig) -> Self {
        Self(Self::ORDER.map(|channel| {
            let limits = channels.get(channel);
            ChannelState {
                policy: dispatch.retry_policy(limits),
                slots: Semaphore::new(limits.max_concurrency),
            }
        }))
    }

    /// Each channel's `max_retries`, in [`Channel::ALL`] order.
    fn max_retries(&self) -> [u32; 4] {
        Channel::ALL.map(|channel| self.get(channel).policy.max_retries)
    }

    fn get(&self, channel: Channel) -> &ChannelState {
        let index = match channel {
            Channel::Sms => 0,
            Channel::Whatsapp => 1,
            Channel::Email => 2,
            Channel::Push => 3,
        };
        &self.0[index]
    }
}

/// Provider error text is foreign input: keep it printable and short before storing it
/// (PostgreSQL rejects NUL in text and JSON, and an error page can be megabytes).
fn sanitize_error(error: ProviderError) -> ProviderError {
    let clean = |reason: String| -> String {
        reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_ERROR_CHARS).collect()
    };
    match error {
        ProviderError::Retryable { reason, retry_after } => {
            ProviderError::Retryable { reason: clean(reason), retry_after }
        }
        ProviderError::Permanent { reason } => ProviderError::Permanent { reason: clean(reason) },
        ProviderError::RecipientInvalid { reason } => {
            ProviderError::RecipientInvalid { reason: clean(reason) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_lose_control_characters_and_excess_length() {
        let long = format!("bad\u{0}\nthing{}", "x".repeat(2 * MAX_ERROR_CHARS));
        let ProviderError::Permanent { reason } = sanitize_error(ProviderError::Permanent { reason: long })
        else {
            unreachable!()
        };
        assert!(reason.starts_with("bad  thing"), "{reason}");
        assert_eq!(reason.chars().count(), MAX_ERROR_CHARS);
    }
}
