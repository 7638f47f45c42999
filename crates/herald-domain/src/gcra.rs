//! A provider's send rate shared by every process that calls it: the generic cell rate
//! algorithm (GCRA) as a schedule of send slots. The whole state is one number, the
//! theoretical arrival time (TAT) of the next send, so it fits in one database row that
//! several workers update in turn (docs/adr/0016-shared-rate-limits.md).
//!
//! A take asks for up to `want` sends and gets the earliest time each may go: at once while
//! the burst lasts, then one per emission interval. Whatever the order and the sizes of the
//! takes, any window of `w` holds at most `burst + w / interval` slots.

/// A rate of `per_sec` sends a second with bursts of up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    interval_us: i64,
    burst: u32,
}

impl RateLimit {
    /// `per_sec` must be positive and finite (config validation sees to it); a burst of 0
    /// counts as 1.
    pub fn new(per_sec: f64, burst: u32) -> Self {
        let interval_us = (1_000_000.0 / per_sec).round().clamp(1.0, i64::MAX as f64) as i64;
        Self { interval_us, burst: burst.max(1) }
    }

    /// The time between two sends at the steady rate, in microseconds.
    pub fn interval_us(&self) -> i64 {
        self.interval_us
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// How far ahead of a slot the TAT may be: the burst beyond the first send.
    fn tolerance_us(&self) -> i64 {
        i64::from(self.burst - 1).saturating_mul(self.interval_us)
    }

    /// Schedules up to `want` sends at `now` (microseconds, any epoch the caller keeps to),
    /// none later than `now + horizon_us`. Returns the slots, earliest first, and the new
    /// TAT to store; with no slot granted the TAT is unchanged and [`Self::next_slot`] says
    /// when one frees up.
    pub fn take(&self, tat: i64, now: i64, want: u32, horizon_us: i64) -> (Vec<i64>, i64) {
        let mut tat = tat;
        let mut slots = Vec::with_capacity(want.min(1024) as usize);
        for _ in 0..want {
            let slot = now.max(tat.saturating_sub(self.tolerance_us()));
            if slot > now.saturating_add(horizon_us) {
                break;
            }
            slots.push(slot);
            tat = tat.max(now).saturating_add(self.interval_us);
        }
        (slots, tat)
    }

    /// The earliest time a send may go, given the stored TAT.
    pub fn next_slot(&self, tat: i64, now: i64) -> i64 {
        now.max(tat.saturating_sub(self.tolerance_us()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn a_full_bucket_gives_the_burst_at_once_then_one_slot_per_interval() {
        let limit = RateLimit::new(2.0, 3);
        let (slots, tat) = limit.take(0, 10 * SECOND, 5, 10 * SECOND);
        let at = 10 * SECOND;
        assert_eq!(slots, vec![at, at, at, at + SECOND / 2, at + SECOND]);
        assert_eq!(tat, at + 5 * SECOND / 2);
    }

    #[test]
    fn nothing_is_granted_beyond_the_horizon() {
        let limit = RateLimit::new(1.0, 1);
        let (slots, tat) = limit.take(0, SECOND, 10, 2 * SECOND);
        assert_eq!(slots, vec![SECOND, 2 * SECOND, 3 * SECOND]);
        let (none, unchanged) = limit.take(tat, SECOND, 1, 0);
        assert!(none.is_empty());
        assert_eq!(unchanged, tat);
        assert_eq!(limit.next_slot(tat, SECOND), 4 * SECOND);
    }

    proptest! {
        /// Takes of any size by any number of processes, at any times: no window of one
        /// second holds more than the rate plus the burst.
        #[test]
        fn no_second_holds_more_than_the_rate_plus_the_burst(
            per_sec in 1u32..50,
            burst in 1u32..10,
            takes in proptest::collection::vec((0i64..3 * SECOND, 1u32..20), 1..60),
        ) {
            let limit = RateLimit::new(f64::from(per_sec), burst);
            let mut tat = 0;
            let mut clock = 0;
            let mut slots = Vec::new();
            for (advance, want) in takes {
                clock += advance;
                let (granted, next) = limit.take(tat, clock, want, 2 * SECOND);
                prop_assert!(granted.iter().all(|&slot| slot >= clock));
                slots.extend(granted);
                tat = next;
            }
            slots.sort_unstable();
            let most = i64::from(burst) + SECOND / limit.interval_us();
            for (i, &start) in slots.iter().enumerate() {
                let within = slots[i..].iter().take_while(|&&slot| slot < start + SECOND).count() as i64;
                prop_assert!(within <= most, "{within} slots in a second from {start}, at most {most}");
            }
        }

        /// A take never waits longer than it has to: with the bucket idle, every slot of a
        /// take no larger than the burst is now.
        #[test]
        fn an_idle_bucket_grants_up_to_the_burst_at_once(per_sec in 1u32..1000, burst in 1u32..100, idle in 0i64..SECOND) {
            let limit = RateLimit::new(f64::from(per_sec), burst);
            let now = 100 * SECOND;
            let tat = (now - i64::from(burst) * limit.interval_us() - idle).max(0);
            let (slots, _) = limit.take(tat, now, burst, 0);
            prop_assert_eq!(slots, vec![now; burst as usize]);
        }
    }
}
