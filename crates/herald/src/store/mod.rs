//! Storage adapters. Both implement [`crate::ports::Store`] and pass the same contract
//! test suite; which one runs is chosen by the database URL's scheme.

use std::sync::Arc;

use crate::ports::{Store, StoreResult};

pub mod postgres;
pub mod sqlite;

/// Connects to the database named by `url` (`sqlite://...` or `postgres://...`). Does not
/// migrate; call [`Store::migrate`].
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    }
}

/// Text columns hold enum names; a value that does not parse means the row is corrupt.
fn parse_column<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| crate::ports::StoreError::Corrupt(format!("{column} = {value:?}")))
}

fn hash_from_bytes(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| crate::ports::StoreError::Corrupt("api_keys.key_hash length".into()))
}

const DEFAULT_ACCOUNT_NAME: &str = "default";

fn counts_from_rows(rows: Vec<(String, i64)>) -> crate::model::StatusCounts {
    let mut counts = crate::model::StatusCounts::default();
    for (status, n) in rows {
        let n = n as u64;
        match status.as_str() {
            "pending" => counts.pending += n,
            "sending" => counts.sending += n,
            "sent" => counts.sent += n,
            "failed" => counts.failed += n,
            _ => counts.other += n,
        }
    }
    counts
}
