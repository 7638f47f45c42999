//! `Store` itself: migrations, readiness, wake-ups, shutdown and singleton roles.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::FutureExt;
use herald::model::{DeadLetterFilter, KeyedMessage};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{claim_all, failed, new_message, started_campaign, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    migrations_are_idempotent_and_the_default_account_is_stable,
    a_singleton_role_is_held_by_one_holder_at_a_time,
    ping_and_write_probes_succeed_on_a_healthy_database,
    a_closed_store_answers_that_the_database_is_unavailable,
);

/// Long enough for any wake-up on a loaded machine; only a broken promise waits it out.
const DEADLINE: Duration = Duration::from_secs(10);

async fn migrations_are_idempotent_and_the_default_account_is_stable(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    store.migrate().await.expect("second migrate is a no-op");
    let first = store.ensure_default_account().await.unwrap();
    let second = store.ensure_default_account().await.unwrap();
    assert_eq!(first, second);
    store.ping().await.unwrap();
}

async fn a_singleton_role_is_held_by_one_holder_at_a_time(backend: Backend) {
    let Some((store, db)) = store(backend).await else { return };
    let mut held = store.try_singleton("relay").await.unwrap().expect("the role is free");
    assert!(held.still_held().await);
    if backend == Backend::Postgres {
        // Another process (another pool on the same database) cannot take it meanwhile...
        let other = herald::store::connect(&db.url).await.unwrap();
        assert!(other.try_singleton("relay").await.unwrap().is_none());
        assert!(other.try_singleton("another role").await.unwrap().is_some());
        // ...and can once it is given up.
        drop(held);
        let taken = crate::helpers::poll(std::time::Duration::from_secs(10), || async {
            other.try_singleton("relay").await.unwrap()
        })
        .await;
        assert!(taken.is_some(), "the role is free again after its holder dropped it");
    }
}

async fn ping_and_write_probes_succeed_on_a_healthy_database(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };

    store.ping().await.expect("ping");
    store.probe_writes().await.expect("a write probe");
    store.probe_writes().await.expect("a probe soon after (the last answer)");

    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(store.backend(), expected);
    assert_eq!(store.status_counts().await.unwrap().total(), 0, "the probe leaves nothing behind");
}

async fn a_closed_store_answers_that_the_database_is_unavailable(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();

    store.close().await;

    let ping = store.ping().await.expect_err("a closed store cannot be pinged");
    assert!(ping.is_unavailable(), "{ping}");
    let probe = store.probe_writes().await.expect_err("nor written");
    assert!(probe.is_unavailable(), "{probe}");
    let insert = store.insert_message(&new_message(account, Utc::now())).await.expect_err("nor used");
    assert!(insert.is_unavailable(), "{insert}");
}

#[crate::harness::test(postgres)]
async fn listen_for_work_on_postgres_wakes_the_worker_whenever_another_process_makes_work_due() {
    let Some((store, db)) = store(Backend::Postgres).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let other = herald::store::connect(&db.url).await.unwrap();
    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());
    let listening = tokio::spawn({
        let (store, wake, shutdown) = (store.clone(), wake.clone(), shutdown.clone());
        async move { store.listen_for_work(wake, shutdown).await }
    });
    let woken = || tokio::time::timeout(DEADLINE, wake.notified());
    woken().await.expect("it looks once as it starts listening, for work committed before");

    other.insert_message(&new_message(account, Utc::now())).await.unwrap();
    woken().await.expect("a new message wakes it");
    let batch = [KeyedMessage { message: new_message(account, Utc::now()), claim: None }];
    other.insert_messages(&batch).await.unwrap();
    woken().await.expect("a batch wakes it");
    started_campaign(other.as_ref(), account, 1, Utc::now()).await;
    woken().await.expect("a campaign start wakes it");
    let now = Utc::now();
    let claimed = claim_all(other.as_ref(), "w", now).await;
    assert_eq!(claimed.len(), 3);
    other.record_outcomes("w", &[failed(account, claimed[0], "mock")]).await.unwrap();
    other.replay_dead_letters(account, Some(&claimed[..1]), &DeadLetterFilter::default(), now).await.unwrap();
    woken().await.expect("a replay wakes it");
    let sweep = herald::model::LeaseSweep {
        now: now + chrono::Duration::seconds(61),
        max_retries: [3; 4],
        provider: "mock",
        uncounted_owner: "amqp-transport",
        failed_event: &|message, _, _| super::event(message.id, "notification.failed"),
    };
    assert_eq!(other.requeue_expired_leases(&sweep).await.unwrap().retried, 2);
    woken().await.expect("messages requeued from lost leases wake it");

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, listening).await.expect("it stops at shutdown").unwrap();
}

#[crate::harness::test]
async fn listen_for_work_on_sqlite_returns_at_once_and_never_wakes() {
    let Some((store, _db)) = store(Backend::Sqlite).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());

    let listened =
        tokio::time::timeout(DEADLINE, store.listen_for_work(wake.clone(), shutdown.clone())).await;
    store.insert_message(&new_message(account, Utc::now())).await.unwrap();

    assert!(listened.is_ok(), "returns without waiting for shutdown");
    assert!(!shutdown.is_cancelled());
    assert!(wake.notified().now_or_never().is_none(), "no wake-up: workers rely on their own");
}

#[crate::harness::test(postgres)]
async fn a_singleton_role_on_postgres_is_given_up_with_its_connection() {
    let Some((store, db)) = store(Backend::Postgres).await else { return };
    let mut held = store.try_singleton("relay").await.unwrap().expect("the role is free");
    let other = herald::store::connect(&db.url).await.unwrap();
    assert!(other.try_singleton("relay").await.unwrap().is_none());
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();

    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&admin)
    .await
    .unwrap();

    assert_eq!(terminated, [true], "one connection held the role");
    let lost = tokio::time::timeout(DEADLINE, async {
        while held.still_held().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    lost.await.expect("the lease sees its connection gone");
    let taken =
        crate::helpers::poll(DEADLINE, || async { other.try_singleton("relay").await.unwrap() }).await;
    assert!(taken.is_some(), "another process takes the role");
    admin.close().await;
}
