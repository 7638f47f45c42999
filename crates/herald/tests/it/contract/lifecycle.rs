//! `Store` itself: migrations, readiness, wake-ups, shutdown and singleton roles.

use super::store;
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    migrations_are_idempotent_and_the_default_account_is_stable,
    a_singleton_role_is_held_by_one_holder_at_a_time,
);

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
