//! The store contract, one file per port: each test runs unchanged against SQLite and
//! PostgreSQL and asserts what the port's doc comment promises. (The older tests in
//! `store_contract.rs` move here port by port.)

mod customers;

use std::sync::Arc;

use herald::ports::Store;

use crate::helpers::{Backend, TestDb};

/// A migrated store on a fresh database; `None` when the backend is not reachable here.
pub(crate) async fn store(backend: Backend) -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create(backend).await?;
    let store = herald::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}
