//! Protection around one provider: a circuit breaker, a token-bucket rate limit and a
//! concurrency budget (bulkhead). The dispatcher asks the guard how much to claim, so a
//! rate-limited or broken provider leaves its backlog waiting durably in the database
//! (`pending`) instead of holding leases or failing messages.

use std::{future::Future, num::NonZeroU32, sync::Arc, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_domain::breaker::{BreakerConfig, CircuitBreaker};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    config::ProviderLimits,
    metrics::Metrics,
    ports::{ProviderError, ProviderReceipt},
};

/// How many messages the dispatcher may claim for this provider now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimBudget {
    Claim(u32),
    /// The breaker is open: claim nothing before this.
    WaitUntil(DateTime<Utc>),
}

/// Why a guarded call did not reach the provider, or what it answered.
#[derive(Debug)]
pub enum GuardedError {
    /// The breaker refused the call: try again at this time; not an attempt.
    Deferred(DateTime<Utc>),
    Provider(ProviderError),
}

#[derive(Debug)]
pub struct ProviderGuard {
    name: String,
    limiter: Option<DefaultDirectRateLimiter>,
    rate_per_sec: Option<f64>,
    /// Batches claimed at once by this process; a rate-limited claim is split between them.
    pipelines: usize,
    permits: Arc<Semaphore>,
    breaker: Option<Mutex<CircuitBreaker>>,
    origin: Instant,
    metrics: Arc<Metrics>,
}

impl ProviderGuard {
    pub fn new(name: &str, limits: &ProviderLimits, pipelines: usize, metrics: Arc<Metrics>) -> Self {
        let limiter = limits.rate_per_sec.map(|rate| {
            let period = Duration::from_secs_f64(1.0 / rate);
            let burst = NonZeroU32::new(limits.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            // `rate` is validated positive and finite, so the period is non-zero.
            let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
            RateLimiter::direct(quota.allow_burst(burst))
        });
        let breaker = limits.breaker.enabled.then(|| {
            Mutex::new(CircuitBreaker::new(BreakerConfig {
                failure_rate: limits.breaker.failure_rate,
                window: limits.breaker.window,
                min_calls: limits.breaker.min_calls,
                open_for_ms: limits.breaker.open_secs * 1000,
                half_open_calls: limits.breaker.half_open_calls,
            }))
        });
        metrics.breaker_state(name, 0);
        Self {
            name: name.to_owned(),
            limiter,
            rate_per_sec: limits.rate_per_sec,
            pipelines: pipelines.max(1),
            permits: Arc::new(Semaphore::new(limits.max_concurrency)),
            breaker,
            origin: Instant::now(),
            metrics,
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn wall_clock_at(&self, at_ms: u64) -> DateTime<Utc> {
        let ahead = at_ms.saturating_sub(self.now_ms());
        Utc::now() + Duration::from_millis(ahead)
    }

    fn breaker(&self) -> Option<std::sync::MutexGuard<'_, CircuitBreaker>> {
        self.breaker.as_ref().map(|b| b.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// At most `batch_size`; nothing while the breaker is open; only the trial calls when
    /// half-open; and with a rate limit, no more than this pipeline's share of what can be
    /// sent in half a lease.
    pub fn claim_budget(&self, batch_size: u32, lease: Duration) -> ClaimBudget {
        let mut budget = batch_size;
        if let Some(mut breaker) = self.breaker() {
            let now = self.now_ms();
            match breaker.available(now) {
                Some(0) => return ClaimBudget::WaitUntil(self.wall_clock_at(breaker.retry_at(now))),
                Some(trials) => budget = budget.min(trials),
                None => {}
            }
        }
        if let Some(rate) = self.rate_per_sec {
            let sendable = (rate * lease.as_secs_f64() / 2.0 / self.pipelines as f64).floor() as u32;
            budget = budget.min(sendable.max(1));
        }
        ClaimBudget::Claim(budget)
    }

    /// Runs one provider call under the breaker, the concurrency budget and the rate limit.
    pub async fn call<F>(&self, send: F) -> Result<ProviderReceipt, GuardedError>
    where
        F: Future<Output = Result<ProviderReceipt, ProviderError>>,
    {
        if let Some(mut breaker) = self.breaker() {
            let now = self.now_ms();
            if let Err(retry_at) = breaker.try_acquire(now) {
                return Err(GuardedError::Deferred(self.wall_clock_at(retry_at)));
            }
        }
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.permits.acquire().await.ok();
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let answer = send.await;
        if let Some(mut breaker) = self.breaker() {
            // Permanent errors are about the message, not the provider's health.
            let healthy = !matches!(answer, Err(ProviderError::Retryable { .. }));
            breaker.record(self.now_ms(), healthy);
            self.metrics.breaker_state(&self.name, breaker.state().as_gauge());
        }
        answer.map_err(GuardedError::Provider)
    }
}
