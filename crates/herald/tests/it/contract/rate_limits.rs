//! `RateLimitStore`, as `Store::shared_rate_limits` hands it out: shared on PostgreSQL,
//! absent on SQLite (one process keeps to its rates by itself).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use herald::ports::{RateLimitStore, Store};
use herald_domain::gcra::RateLimit;

use super::{now_ms, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(shared_rate_limits_are_kept_in_the_database_only_on_postgres);

/// One send every 1,000 s, one at a time: a take never frees a slot while a test runs.
fn slow() -> RateLimit {
    RateLimit::new(0.001, 1)
}

const INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(1_000);

fn shared(store: &Arc<dyn Store>) -> Arc<dyn RateLimitStore> {
    store.shared_rate_limits().expect("PostgreSQL shares its rate limits")
}

async fn shared_rate_limits_are_kept_in_the_database_only_on_postgres(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };

    let limits = store.shared_rate_limits();

    assert_eq!(limits.is_some(), backend == Backend::Postgres);
}

#[crate::harness::test(postgres)]
async fn send_slots_come_earliest_first_and_none_past_the_horizon() {
    let Some((store, _db)) = store(Backend::Postgres).await else { return };
    let limits = shared(&store);
    let now = now_ms();
    let horizon = Duration::from_secs(2_500);

    let taken = limits.take_send_slots("mock", slow(), 5, now, horizon).await.unwrap();

    assert_eq!(taken.slots, [now, now + INTERVAL, now + INTERVAL * 2], "one per interval, within 2,500 s");
    let burst = RateLimit::new(0.001, 3);
    let at_once = limits.take_send_slots("other", burst, 5, now, Duration::ZERO).await.unwrap();
    assert_eq!(at_once.slots, [now; 3], "a burst goes at once");
}

#[crate::harness::test(postgres)]
async fn send_slots_taken_by_one_process_are_taken_for_every_process() {
    let Some((store, db)) = store(Backend::Postgres).await else { return };
    let other = herald::store::connect(&db.url).await.unwrap();
    let first = now_ms();
    assert_eq!(
        shared(&store).take_send_slots("mock", slow(), 1, first, Duration::ZERO).await.unwrap().slots,
        [first]
    );
    let now = now_ms();

    let refused = shared(&other).take_send_slots("mock", slow(), 1, now, Duration::ZERO).await.unwrap();
    let elsewhere = shared(&other).take_send_slots("another", slow(), 1, now, Duration::ZERO).await.unwrap();

    assert!(refused.slots.is_empty(), "the other process gets no slot");
    let earliest = INTERVAL - chrono::TimeDelta::seconds(100);
    assert!(
        refused.next > now + earliest && refused.next <= now + INTERVAL,
        "the next slot is an interval after the first: {} after now",
        refused.next - now
    );
    assert_eq!(elsewhere.slots, [now], "another provider has its own rate");
}

#[crate::harness::test(postgres)]
async fn concurrent_takes_never_grant_more_than_the_burst() {
    let Some((store, db)) = store(Backend::Postgres).await else { return };
    let other = herald::store::connect(&db.url).await.unwrap();
    let burst = RateLimit::new(0.001, 2);
    let takes: Vec<_> = (0..8)
        .map(|n| {
            let limits = shared(if n % 2 == 0 { &store } else { &other });
            tokio::spawn(async move {
                limits.take_send_slots("mock", burst, 1, Utc::now(), Duration::ZERO).await.unwrap().slots
            })
        })
        .collect();

    let mut granted: Vec<DateTime<Utc>> = Vec::new();
    for take in takes {
        granted.extend(take.await.unwrap());
    }

    assert_eq!(granted.len(), 2, "eight takes of one slot share a burst of two: {granted:?}");
}
