//! Protection around one provider: a circuit breaker, a token-bucket rate limit and a
//! concurrency budget (bulkhead) whose size adapts to how the provider answers. The
//! dispatcher asks the guard how much to claim, so a rate-limited or broken provider leaves
//! its backlog waiting durably in the database (`pending`) instead of holding leases or
//! failing messages. A provider that is down opens the breaker; one that fails part of its
//! calls gets fewer calls at once (AIMD, `herald_domain::adaptive`) and keeps delivering the
//! rest (docs/adr/0012-adaptive-limits.md).

use std::{future::Future, num::NonZeroU32, sync::Arc, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_domain::{
    adaptive::{AdaptiveConfig, AdaptiveLimit},
    breaker::{BreakerConfig, BreakerState, CircuitBreaker},
};
use tokio::{
    sync::{Semaphore, SemaphorePermit},
    time::Instant,
};

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
    adaptive: Option<Mutex<Adaptive>>,
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
        let adaptive = limits.adaptive_concurrency.then(|| {
            let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            let config = AdaptiveConfig::new(clamp(limits.min_concurrency()), clamp(limits.max_concurrency));
            Mutex::new(Adaptive { limit: AdaptiveLimit::new(config), owed: 0 })
        });
        metrics.breaker_state(name, 0);
        metrics.concurrency_limit(name, u32::try_from(limits.max_concurrency).unwrap_or(u32::MAX));
        Self {
            name: name.to_owned(),
            limiter,
            rate_per_sec: limits.rate_per_sec,
            pipelines: pipelines.max(1),
            permits: Arc::new(Semaphore::new(limits.max_concurrency)),
            adaptive,
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
        let permit = self.permits.acquire().await.ok();
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let answer = send.await;
        // Permanent errors are about the message, not the provider's health.
        let healthy = !matches!(answer, Err(ProviderError::Retryable { .. }));
        if let Some(mut breaker) = self.breaker() {
            let was_open = matches!(breaker.state(), BreakerState::Open { .. });
            breaker.record(self.now_ms(), healthy);
            let state = breaker.state();
            if !was_open && matches!(state, BreakerState::Open { .. }) {
                self.metrics.breaker_opened(&self.name);
            }
            self.metrics.breaker_state(&self.name, state.as_gauge());
        }
        self.release(permit, healthy);
        answer.map_err(GuardedError::Provider)
    }

    /// Gives the call's slot back, after letting its outcome move the adaptive limit: a
    /// lower limit is paid by keeping slots that come back (the semaphore cannot take
    /// permits that are out), a higher one first cancels what is still owed.
    fn release(&self, permit: Option<SemaphorePermit<'_>>, healthy: bool) {
        let Some(adaptive) = &self.adaptive else { return };
        let mut adaptive = adaptive.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = adaptive.limit.limit();
        if let Some(after) = adaptive.limit.record(healthy) {
            if after < before {
                adaptive.owed += (before - after) as usize;
            } else {
                let raised = (after - before) as usize;
                let cancelled = raised.min(adaptive.owed);
                adaptive.owed -= cancelled;
                self.permits.add_permits(raised - cancelled);
            }
            if after != before {
                self.metrics.concurrency_limit(&self.name, after);
            }
        }
        if let Some(permit) = permit {
            if adaptive.owed > 0 {
                adaptive.owed -= 1;
                permit.forget();
            }
        }
        let owed = adaptive.owed;
        adaptive.owed -= self.permits.forget_permits(owed);
    }
}

/// The adaptive limit and the slots still to be taken out of the semaphore to reach it.
#[derive(Debug)]
struct Adaptive {
    limit: AdaptiveLimit,
    owed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max_concurrency: usize, min_concurrency: usize) -> ProviderGuard {
        let mut limits =
            ProviderLimits { max_concurrency, min_concurrency: Some(min_concurrency), ..Default::default() };
        limits.breaker.enabled = false;
        ProviderGuard::new("test", &limits, 1, Arc::new(Metrics::new()))
    }

    fn failing() -> Result<ProviderReceipt, ProviderError> {
        Err(ProviderError::Retryable { reason: "no".into(), retry_after: None })
    }

    #[tokio::test]
    async fn the_bulkhead_shrinks_to_the_adaptive_limit_and_grows_back() {
        let guard = guard(16, 4);
        for _ in 0..500 {
            let _ = guard.call(async { failing() }).await;
        }
        assert_eq!(guard.permits.available_permits(), 4, "the floor, after half a thousand failures");
        for _ in 0..2_000 {
            let _ = guard.call(async { Ok(ProviderReceipt { provider_message_id: None }) }).await;
        }
        assert_eq!(guard.permits.available_permits(), 16, "all slots back once calls succeed");
    }
}
