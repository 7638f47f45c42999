//! Adaptive concurrency (AIMD): how many calls a provider gets at once, lowered while it
//! fails part of its calls and raised again while it answers well.
//!
//! Pure, like the breaker: the caller reports each call's outcome and applies the limit.
//! Outcomes are judged per epoch of about one round of the calls in flight (`limit` calls,
//! at most [`AdaptiveConfig::max_epoch`]), as TCP judges once per round trip: the calls of
//! one round fail together when a provider struggles, and backing off once per failed call
//! would collapse the limit on a single bad moment. An epoch whose share of failures is
//! above `tolerance` multiplies the limit by `backoff`, never below `min`; any other epoch
//! adds `step`, never above `max`. A provider that fails part of its calls thus gets fewer
//! of them at once, but never none: stopping is the breaker's job, for a provider that is
//! down.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// The limit never goes below this (at least 1).
    pub min: u32,
    /// Nor above this: where it starts, the provider's configured concurrency.
    pub max: u32,
    /// Factor applied after an epoch with too many failures, in (0, 1).
    pub backoff: f64,
    /// Share of failed calls in an epoch that is still healthy.
    pub tolerance: f64,
    /// Added after a healthy epoch.
    pub step: u32,
    /// Longest epoch, in calls, so a large limit still reacts within this many calls.
    pub max_epoch: u32,
}

impl AdaptiveConfig {
    /// For a provider allowed `max` calls at once, slowing to no fewer than `min`: back off
    /// by a quarter per bad epoch, tolerate 10% failures, and climb back from `min` to
    /// `max` in about 16 healthy epochs.
    pub fn new(min: u32, max: u32) -> Self {
        let max = max.max(1);
        let min = min.clamp(1, max);
        Self { min, max, backoff: 0.75, tolerance: 0.1, step: ((max - min) / 16).max(1), max_epoch: 100 }
    }
}

#[derive(Debug, Clone)]
pub struct AdaptiveLimit {
    config: AdaptiveConfig,
    limit: u32,
    calls: u32,
    failures: u32,
}

impl AdaptiveLimit {
    pub fn new(config: AdaptiveConfig) -> Self {
        Self { config, limit: config.max, calls: 0, failures: 0 }
    }

    /// Calls allowed at once now.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Records how a call ended (`success` false for a failure that says something about
    /// the provider's health); returns the new limit when this call ended an epoch.
    pub fn record(&mut self, success: bool) -> Option<u32> {
        self.calls += 1;
        if !success {
            self.failures += 1;
        }
        if self.calls < self.limit.min(self.config.max_epoch).max(1) {
            return None;
        }
        let failing = f64::from(self.failures) > self.config.tolerance * f64::from(self.calls);
        self.limit = if failing {
            ((f64::from(self.limit) * self.config.backoff).floor() as u32).max(self.config.min)
        } else {
            self.limit.saturating_add(self.config.step).min(self.config.max)
        };
        self.calls = 0;
        self.failures = 0;
        Some(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn limit(min: u32, max: u32) -> AdaptiveLimit {
        AdaptiveLimit::new(AdaptiveConfig::new(min, max))
    }

    #[test]
    fn starts_at_the_maximum_and_stays_there_while_calls_succeed() {
        let mut l = limit(4, 16);
        for _ in 0..1000 {
            l.record(true);
        }
        assert_eq!(l.limit(), 16);
    }

    #[test]
    fn an_epoch_with_too_many_failures_backs_off_once() {
        let mut l = limit(4, 16);
        // One epoch is 16 calls at a limit of 16; half of them fail.
        let changes: Vec<_> = (0..16).filter_map(|n| l.record(n % 2 == 0)).collect();
        assert_eq!(changes, vec![12], "16 × 0.75, once for the whole epoch");
    }

    #[test]
    fn failures_within_the_tolerance_do_not_slow_down() {
        let mut l = limit(4, 20);
        // 2 of 20 failed: 10%, not above the tolerance.
        for n in 0..20 {
            l.record(n % 10 != 0);
        }
        assert_eq!(l.limit(), 20);
    }

    #[test]
    fn half_failing_settles_at_the_minimum_and_never_stops() {
        let mut l = limit(4, 64);
        for n in 0..10_000 {
            l.record(n % 2 == 0);
        }
        assert_eq!(l.limit(), 4);
    }

    #[test]
    fn recovers_to_the_maximum_once_the_provider_answers_well() {
        let mut l = limit(4, 64);
        for _ in 0..1000 {
            l.record(false);
        }
        assert_eq!(l.limit(), 4);
        let mut calls = 0;
        while l.limit() < 64 {
            l.record(true);
            calls += 1;
            assert!(calls < 2000, "climbs back in a bounded number of calls");
        }
    }

    #[test]
    fn a_large_limit_reacts_within_its_longest_epoch() {
        let mut l = limit(10, 10_000);
        let first_change = (1..=200).find(|_| l.record(false).is_some());
        assert_eq!(first_change, Some(100));
        assert_eq!(l.limit(), 7_500);
    }

    #[test]
    fn a_minimum_above_the_maximum_is_clamped() {
        let config = AdaptiveConfig::new(50, 8);
        assert_eq!((config.min, config.max), (8, 8));
        let mut l = AdaptiveLimit::new(config);
        for _ in 0..100 {
            l.record(false);
        }
        assert_eq!(l.limit(), 8);
    }

    proptest! {
        #[test]
        fn the_limit_stays_between_min_and_max(
            min in 1u32..50,
            max in 1u32..2000,
            outcomes in proptest::collection::vec(any::<bool>(), 0..3000),
        ) {
            let config = AdaptiveConfig::new(min, max);
            let mut l = AdaptiveLimit::new(config);
            for success in outcomes {
                if let Some(new) = l.record(success) {
                    prop_assert_eq!(new, l.limit());
                }
                prop_assert!(l.limit() >= config.min && l.limit() <= config.max);
            }
        }

        #[test]
        fn successes_never_lower_the_limit(
            failures in 0usize..500,
            successes in 0usize..3000,
        ) {
            let mut l = limit(3, 300);
            for _ in 0..failures {
                l.record(false);
            }
            // Finish the epoch those failures began: it is judged on them.
            while l.record(false).is_none() {}
            let mut last = l.limit();
            for _ in 0..successes {
                l.record(true);
                prop_assert!(l.limit() >= last);
                last = l.limit();
            }
        }

        #[test]
        fn failures_never_raise_the_limit(
            successes in 0usize..500,
            failures in 0usize..3000,
        ) {
            let mut l = limit(3, 300);
            for _ in 0..successes {
                l.record(true);
            }
            while l.record(true).is_none() {}
            let mut last = l.limit();
            for _ in 0..failures {
                l.record(false);
                prop_assert!(l.limit() <= last);
                last = l.limit();
            }
        }
    }
}
