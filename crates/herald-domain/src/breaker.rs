//! The circuit breaker state machine: closed -> open -> half-open -> closed (or open again).
//!
//! Pure: the caller passes the time (milliseconds on any monotonic clock), so the rules are
//! tested without waiting. Closed, it counts the outcomes of the last `window` calls and
//! opens when at least `min_calls` were seen and the share of failures reaches
//! `failure_rate`. Open, it refuses calls for `open_for`. Half-open, it lets
//! `half_open_calls` trial calls through: all succeed -> closed; any fails -> open again.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub failure_rate: f64,
    pub window: usize,
    pub min_calls: usize,
    pub open_for_ms: u64,
    pub half_open_calls: u32,
}

impl Default for BreakerConfig {
    /// For a provider that is down, not one failing part of its calls (that one is slowed
    /// down by the adaptive concurrency limit, `adaptive.rs`, and keeps delivering): 90% of
    /// the last 50 calls (at least 20), open for 30 s, 3 trial calls. A provider failing
    /// half its calls at random reaches 90% of 50 about once in 10^9 windows.
    fn default() -> Self {
        Self { failure_rate: 0.9, window: 50, min_calls: 20, open_for_ms: 30_000, half_open_calls: 3 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until_ms: u64 },
    HalfOpen { trials_started: u32, trials_succeeded: u32 },
}

impl BreakerState {
    /// 0 closed, 1 half-open, 2 open (the value of the metric).
    pub fn as_gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen { .. } => 1,
            Self::Open { .. } => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    recent: VecDeque<bool>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self { config, state: BreakerState::Closed, recent: VecDeque::with_capacity(config.window) }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The state a call would find at `now_ms`, without moving the breaker: an open one
    /// whose wait is over is half-open (what [`Self::available`] would make it).
    pub fn state_at(&self, now_ms: u64) -> BreakerState {
        match self.state {
            BreakerState::Open { until_ms } if now_ms >= until_ms => {
                BreakerState::HalfOpen { trials_started: 0, trials_succeeded: 0 }
            }
            state => state,
        }
    }

    /// How many calls may start now: unlimited (`None`) when closed, the trial calls left
    /// when half-open, none while open. Moves open -> half-open once the wait is over.
    pub fn available(&mut self, now_ms: u64) -> Option<u32> {
        if let BreakerState::Open { until_ms } = self.state {
            if now_ms >= until_ms {
                self.state = BreakerState::HalfOpen { trials_started: 0, trials_succeeded: 0 };
            }
        }
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open { .. } => Some(0),
            BreakerState::HalfOpen { trials_started, .. } => {
                Some(self.config.half_open_calls.saturating_sub(trials_started))
            }
        }
    }

    /// Asks to start one call; `Err(retry_at_ms)` when the breaker refuses it.
    pub fn try_acquire(&mut self, now_ms: u64) -> Result<(), u64> {
        match self.available(now_ms) {
            None => Ok(()),
            Some(0) => Err(self.retry_at(now_ms)),
            Some(_) => {
                if let BreakerState::HalfOpen { trials_started, .. } = &mut self.state {
                    *trials_started += 1;
                }
                Ok(())
            }
        }
    }

    /// Gives back a call let through but never made (e.g. put off by a rate limit): a
    /// half-open breaker's trial is free again; a closed one records nothing.
    pub fn cancel(&mut self) {
        if let BreakerState::HalfOpen { trials_started, .. } = &mut self.state {
            *trials_started = trials_started.saturating_sub(1);
        }
    }

    /// When refused calls should be tried again.
    pub fn retry_at(&self, now_ms: u64) -> u64 {
        match self.state {
            BreakerState::Open { until_ms } => until_ms,
            // Trials are running: look again shortly.
            _ => now_ms + 1_000,
        }
    }

    /// Records how a call that was let through ended.
    pub fn record(&mut self, now_ms: u64, success: bool) {
        match &mut self.state {
            BreakerState::Closed => {
                if self.recent.len() == self.config.window {
                    self.recent.pop_front();
                }
                self.recent.push_back(success);
                let failures = self.recent.iter().filter(|ok| !**ok).count();
                let calls = self.recent.len();
                if calls >= self.config.min_calls
                    && failures as f64 >= self.config.failure_rate * calls as f64
                {
                    self.open(now_ms);
                }
            }
            BreakerState::HalfOpen { trials_succeeded, .. } => {
                if !success {
                    self.open(now_ms);
                    return;
                }
                *trials_succeeded += 1;
                if *trials_succeeded >= self.config.half_open_calls {
                    self.state = BreakerState::Closed;
                    self.recent.clear();
                }
            }
            // A call that started before the breaker opened: its outcome changes nothing.
            BreakerState::Open { .. } => {}
        }
    }

    fn open(&mut self, now_ms: u64) {
        self.state = BreakerState::Open { until_ms: now_ms + self.config.open_for_ms };
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_rate: 0.5,
            window: 10,
            min_calls: 4,
            open_for_ms: 1000,
            half_open_calls: 2,
        })
    }

    #[test]
    fn a_trial_given_back_unused_can_be_taken_again() {
        let mut breaker = breaker();
        for _ in 0..4 {
            breaker.record(0, false);
        }
        assert_eq!(breaker.try_acquire(1000), Ok(()));
        assert_eq!(breaker.try_acquire(1000), Ok(()));
        assert!(breaker.try_acquire(1000).is_err(), "both trials are out");
        breaker.cancel();
        assert_eq!(breaker.try_acquire(1000), Ok(()), "the trial given back");
    }

    #[test]
    fn state_at_reads_an_open_breaker_as_half_open_once_its_wait_is_over_without_moving_it() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(0, false);
        }
        assert_eq!(b.state_at(999), BreakerState::Open { until_ms: 1000 });
        let half_open = BreakerState::HalfOpen { trials_started: 0, trials_succeeded: 0 };
        assert_eq!(b.state_at(1000), half_open);
        assert_eq!(b.state(), BreakerState::Open { until_ms: 1000 }, "reading changes nothing");
        b.available(1000);
        assert_eq!(b.state(), half_open);
    }

    #[test]
    fn stays_closed_below_the_minimum_number_of_calls() {
        let mut b = breaker();
        for _ in 0..3 {
            b.record(0, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(0, false);
        assert_eq!(b.state(), BreakerState::Open { until_ms: 1000 });
    }

    #[test]
    fn opens_at_the_failure_rate_over_the_window() {
        let mut b = breaker();
        for success in [true, true, true, false, true, false, true] {
            b.record(0, success);
        }
        assert_eq!(b.state(), BreakerState::Closed, "2 of 7 failed");
        b.record(5, false);
        b.record(5, false);
        assert_eq!(b.state(), BreakerState::Closed, "4 of 9 failed: under 50%");
        b.record(5, false);
        assert_eq!(b.state(), BreakerState::Open { until_ms: 1005 }, "5 of 10 failed");
    }

    #[test]
    fn open_refuses_until_the_wait_is_over_then_lets_trials_through() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(0, false);
        }
        assert_eq!(b.try_acquire(500), Err(1000));
        assert_eq!(b.available(999), Some(0));
        assert_eq!(b.try_acquire(1000), Ok(()));
        assert_eq!(b.try_acquire(1001), Ok(()));
        assert!(b.try_acquire(1002).is_err(), "only two trials at once");
        b.record(1100, true);
        b.record(1100, true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.available(1100), None);
    }

    #[test]
    fn a_failed_trial_opens_again() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(0, false);
        }
        assert_eq!(b.try_acquire(1000), Ok(()));
        b.record(1050, false);
        assert_eq!(b.state(), BreakerState::Open { until_ms: 2050 });
    }

    #[test]
    fn by_default_half_failing_keeps_it_closed_and_failing_every_call_opens_it_within_the_window() {
        let config = BreakerConfig::default();
        let mut b = CircuitBreaker::new(config);
        for n in 0..10_000u64 {
            b.record(n, n % 2 == 0);
        }
        assert_eq!(b.state(), BreakerState::Closed, "partial failure is for the adaptive limit");
        let opened_after = (1..=config.window).find(|_| {
            b.record(20_000, false);
            b.state() != BreakerState::Closed
        });
        assert!(opened_after.is_some_and(|calls| calls <= config.window), "{opened_after:?}");
    }
}
