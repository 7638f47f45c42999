//! The retry schedule: exponential backoff with full jitter.

use std::time::Duration;

/// How often and how long to wait before trying a failed message again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; a message gets at most `max_retries + 1` attempts.
    pub max_retries: u32,
    /// Backoff ceiling for the first retry; it doubles with each retry.
    pub base: Duration,
    /// The largest backoff ever used.
    pub cap: Duration,
}

/// A provider's `Retry-After` beyond this is treated as this (a day).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// What to do after an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAfter(Duration),
    GiveUp,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, base: Duration::from_secs(1), cap: Duration::from_secs(300) }
    }
}

impl RetryPolicy {
    /// Decides after a retryable failure. `retries_so_far` counts the retries already
    /// used; `unit_random` is a uniform sample in `[0, 1)` supplied by the caller (so this
    /// stays pure and testable); `retry_after` is the provider's own hint, which is a floor.
    pub fn after_failure(
        &self,
        retries_so_far: u32,
        unit_random: f64,
        retry_after: Option<Duration>,
    ) -> RetryDecision {
        if retries_so_far >= self.max_retries {
            return RetryDecision::GiveUp;
        }
        let backoff = self.full_jitter(retries_so_far, unit_random);
        let hint = retry_after.map(|hint| hint.min(MAX_RETRY_AFTER));
        RetryDecision::RetryAfter(hint.map_or(backoff, |hint| hint.max(backoff)))
    }

    /// `random(0, min(cap, base * 2^n))`: full jitter spreads retries of a failed burst
    /// over the whole window instead of synchronising them.
    pub fn full_jitter(&self, retries_so_far: u32, unit_random: f64) -> Duration {
        let ceiling = self
            .base
            .checked_mul(2u32.saturating_pow(retries_so_far.min(31)))
            .unwrap_or(self.cap)
            .min(self.cap);
        ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gives_up_after_max_retries() {
        let policy = RetryPolicy::default();
        assert!(matches!(policy.after_failure(2, 0.5, None), RetryDecision::RetryAfter(_)));
        assert_eq!(policy.after_failure(3, 0.5, None), RetryDecision::GiveUp);
    }

    #[test]
    fn retry_after_hint_is_a_floor() {
        let policy = RetryPolicy::default();
        let hint = Duration::from_secs(42);
        assert_eq!(policy.after_failure(0, 0.0, Some(hint)), RetryDecision::RetryAfter(hint));
    }

    #[test]
    fn absurd_retry_after_hints_are_capped() {
        let policy = RetryPolicy::default();
        let hint = Some(Duration::from_secs(u64::MAX / 4));
        assert_eq!(policy.after_failure(0, 0.5, hint), RetryDecision::RetryAfter(MAX_RETRY_AFTER));
    }

    #[test]
    fn window_doubles_then_stops_at_the_cap() {
        let policy = RetryPolicy { max_retries: 100, ..RetryPolicy::default() };
        assert_eq!(policy.full_jitter(0, 1.0), Duration::from_secs(1));
        assert_eq!(policy.full_jitter(3, 1.0), Duration::from_secs(8));
        assert_eq!(policy.full_jitter(40, 1.0), Duration::from_secs(300));
    }

    proptest! {
        #[test]
        fn backoff_stays_within_the_window(n in 0u32..64, r in 0.0f64..1.0) {
            let policy = RetryPolicy::default();
            let delay = policy.full_jitter(n, r);
            prop_assert!(delay <= policy.cap);
            let window = policy.base.saturating_mul(2u32.saturating_pow(n.min(31))).min(policy.cap);
            prop_assert!(delay <= window);
        }
    }
}
