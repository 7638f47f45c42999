//! Protection around one provider: a circuit breaker, a token-bucket rate limit and a
//! concurrency budget (bulkhead) whose size adapts to how the provider answers. The
//! dispatcher asks the guard how much to claim, so a rate-limited or broken provider leaves
//! its backlog waiting durably in the database (`pending`) instead of holding leases or
//! failing messages. A provider that is down opens the breaker; one that fails part of its
//! calls gets fewer calls at once (AIMD, `herald_domain::adaptive`) and keeps delivering the
//! rest (docs/adr/0012-adaptive-limits.md). On PostgreSQL the rate is shared by every
//! process calling the provider (docs/adr/0016-shared-rate-limits.md).

use std::{
    collections::VecDeque,
    future::Future,
    num::NonZeroU32,
    sync::atomic::{AtomicU32, Ordering},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_domain::{
    adaptive::{AdaptiveConfig, AdaptiveLimit},
    breaker::{BreakerConfig, BreakerState, CircuitBreaker},
    gcra::RateLimit,
};
use tokio::{
    sync::{Semaphore, SemaphorePermit},
    time::Instant,
};

use crate::{
    config::ProviderLimits,
    metrics::Metrics,
    ports::{ProviderError, ProviderReceipt, RateLimitStore},
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
    /// The call was not made: try again at `until`; not an attempt.
    Deferred {
        until: DateTime<Utc>,
        why: Deferral,
    },
    Provider(ProviderError),
}

/// Why a call was put off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// The breaker is open (or half-open with its trial calls out): another provider of
    /// the route may take the message.
    BreakerOpen,
    /// The provider's shared rate has no send slot within the horizon: the message waits
    /// for this provider (a saturated provider does not spill onto the next).
    RateLimited,
}

impl Deferral {
    pub fn reason(self) -> &'static str {
        match self {
            Self::BreakerOpen => "circuit breaker open",
            Self::RateLimited => "provider rate limit: no send slot free soon enough",
        }
    }
}

#[derive(Debug)]
pub struct ProviderGuard {
    name: String,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The rate shared with other processes; `limiter` serves while it cannot be reached.
    shared: Option<SharedRate>,
    rate_per_sec: Option<f64>,
    /// Batches claimed at once by this process; a rate-limited claim is split between them.
    pipelines: usize,
    permits: Arc<Semaphore>,
    adaptive: Option<Mutex<Adaptive>>,
    /// Shared with [`BreakerView`]s, which only read it.
    breaker: Option<Arc<Mutex<CircuitBreaker>>>,
    origin: Instant,
    metrics: Arc<Metrics>,
}

impl ProviderGuard {
    pub fn new(name: &str, limits: &ProviderLimits, pipelines: usize, metrics: Arc<Metrics>) -> Self {
        Self::with_shared_rate(name, limits, pipelines, metrics, None)
    }

    /// [`Self::new`] with the provider's rate kept in `shared` together with every other
    /// process: a call waits at most `shared.1` for its send slot, else it is deferred.
    pub fn with_shared_rate(
        name: &str,
        limits: &ProviderLimits,
        pipelines: usize,
        metrics: Arc<Metrics>,
        shared: Option<(Arc<dyn RateLimitStore>, Duration)>,
    ) -> Self {
        let shared = shared.zip(limits.rate_per_sec).map(|((store, horizon), rate)| SharedRate {
            store,
            limit: RateLimit::new(rate, limits.burst),
            horizon,
            slots: tokio::sync::Mutex::new(VecDeque::new()),
            waiting: AtomicU32::new(0),
        });
        let limiter = limits.rate_per_sec.map(|rate| {
            let period = Duration::from_secs_f64(1.0 / rate);
            let burst = NonZeroU32::new(limits.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            // `rate` is validated positive and finite, so the period is non-zero.
            let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
            RateLimiter::direct(quota.allow_burst(burst))
        });
        let breaker = limits.breaker.enabled.then(|| {
            Arc::new(Mutex::new(CircuitBreaker::new(BreakerConfig {
                failure_rate: limits.breaker.failure_rate,
                window: limits.breaker.window,
                min_calls: limits.breaker.min_calls,
                open_for_ms: limits.breaker.open_secs * 1000,
                half_open_calls: limits.breaker.half_open_calls,
            })))
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
            shared,
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
        self.breaker.as_ref().map(|b| lock(b))
    }

    /// A read-only handle on this provider's breaker.
    pub fn breaker_view(&self) -> BreakerView {
        BreakerView { breaker: self.breaker.clone(), origin: self.origin }
    }

    /// At most `batch_size`; nothing while the breaker is open; only the trial calls when
    /// half-open; and with a rate limit, no more than this pipeline's share of what can be
    /// sent in half a lease (with a shared rate: in the horizon a call may wait for its
    /// slot, since other processes send at the same rate too).
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
            let window = self.shared.as_ref().map_or(lease / 2, |shared| shared.horizon.min(lease / 2));
            let sendable = (rate * window.as_secs_f64() / self.pipelines as f64).floor() as u32;
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
                let until = self.wall_clock_at(retry_at);
                return Err(GuardedError::Deferred { until, why: Deferral::BreakerOpen });
            }
        }
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = self.permits.acquire().await.ok();
        let shared_slot = match &self.shared {
            Some(shared) => shared.next_slot(&self.name).await,
            None => Err(NotShared),
        };
        match shared_slot {
            Ok(Ok(slot)) => {
                if let Ok(wait) = (slot - Utc::now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
            }
            Ok(Err(until)) => {
                if let Some(mut breaker) = self.breaker() {
                    breaker.cancel();
                }
                return Err(GuardedError::Deferred { until, why: Deferral::RateLimited });
            }
            Err(NotShared) => {
                if let Some(limiter) = &self.limiter {
                    limiter.until_ready().await;
                }
            }
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

fn lock(breaker: &Mutex<CircuitBreaker>) -> std::sync::MutexGuard<'_, CircuitBreaker> {
    breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a provider's circuit breaker without moving it (the overview), for as long as
/// the dispatcher that owns the breaker lives.
#[derive(Debug, Clone)]
pub struct BreakerView {
    /// None: the provider has no breaker (`limits.breaker.enabled = false`).
    breaker: Option<Arc<Mutex<CircuitBreaker>>>,
    /// The guard's clock origin: breaker times are milliseconds since it.
    origin: Instant,
}

impl BreakerView {
    /// The state a call would find now; always closed without a breaker.
    pub fn state(&self) -> BreakerState {
        let now_ms = self.origin.elapsed().as_millis() as u64;
        self.breaker.as_ref().map_or(BreakerState::Closed, |breaker| lock(breaker).state_at(now_ms))
    }
}

/// A call goes without a shared slot (no shared rate, or its state cannot be read now).
struct NotShared;

/// The provider's rate shared with every other process through the database. Calls
/// waiting at one time take their slots in one round trip; a slot is used at its time or
/// dropped.
struct SharedRate {
    store: Arc<dyn RateLimitStore>,
    limit: RateLimit,
    /// The longest a call waits for its slot (it holds its message's lease meanwhile).
    horizon: Duration,
    slots: tokio::sync::Mutex<VecDeque<DateTime<Utc>>>,
    /// Calls of this process waiting for a slot now: how many the next take asks for.
    waiting: AtomicU32,
}

impl std::fmt::Debug for SharedRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRate").field("limit", &self.limit).field("horizon", &self.horizon).finish()
    }
}

/// A slot not used within this much of its time is dropped: sent late, it could crowd a
/// later second beyond the rate.
const STALE_SLOT: chrono::TimeDelta = chrono::TimeDelta::milliseconds(100);

impl SharedRate {
    /// This call's send slot (`Ok`), or when one could be had if none is free within the
    /// horizon (`Err`). Falls back to the local limiter when the database cannot be read.
    async fn next_slot(&self, provider: &str) -> Result<Result<DateTime<Utc>, DateTime<Utc>>, NotShared> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let slot = self.take(provider).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        slot
    }

    async fn take(&self, provider: &str) -> Result<Result<DateTime<Utc>, DateTime<Utc>>, NotShared> {
        let mut slots = self.slots.lock().await;
        let now = Utc::now();
        while slots.front().is_some_and(|slot| *slot + STALE_SLOT < now) {
            slots.pop_front();
        }
        if let Some(slot) = slots.pop_front() {
            return Ok(Ok(slot));
        }
        let want = self.waiting.load(Ordering::SeqCst).clamp(1, 1024);
        match self.store.take_send_slots(provider, self.limit, want, now, self.horizon).await {
            Ok(taken) => {
                slots.extend(taken.slots);
                Ok(slots.pop_front().ok_or(taken.next))
            }
            Err(error) => {
                tracing::warn!(%error, provider, "the shared rate limit cannot be read; keeping to the rate in this process");
                Err(NotShared)
            }
        }
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
