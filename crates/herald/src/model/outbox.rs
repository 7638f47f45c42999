//! The transactional outbox: events in herald's envelope and their place in the feed.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, EventId};
use serde::Serialize;

/// An event in the transactional outbox, in the envelope herald publishes everywhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEvent {
    pub event_id: EventId,
    pub event_type: String,
    pub aggregate_id: String,
    pub user_id: Option<String>,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub timestamp: DateTime<Utc>,
}

/// An outbox event with its position in the account's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub sequence: i64,
    /// The transaction that wrote it, on PostgreSQL (its `xid8`); 0 on SQLite.
    pub transaction: i64,
    pub account_id: AccountId,
    pub event: OutboxEvent,
}

impl StoredEvent {
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor { transaction: self.transaction, sequence: self.sequence }
    }
}

/// A position in the event feed, which is ordered by writing transaction, then sequence.
/// Written `<sequence>` when the transaction is 0 (SQLite, whose one writer commits in
/// sequence order), `<transaction>-<sequence>` otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedCursor {
    pub transaction: i64,
    pub sequence: i64,
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.transaction {
            0 => write!(f, "{}", self.sequence),
            transaction => write!(f, "{transaction}-{}", self.sequence),
        }
    }
}

impl std::str::FromStr for FeedCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let number = |part: &str| part.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(());
        match text.split_once('-') {
            None => Ok(Self { transaction: 0, sequence: number(text)? }),
            Some((transaction, sequence)) => {
                Ok(Self { transaction: number(transaction)?, sequence: number(sequence)? })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FeedCursor;

    #[test]
    fn feed_cursors_round_trip_and_reject_junk() {
        for cursor in
            [FeedCursor { transaction: 0, sequence: 42 }, FeedCursor { transaction: 7_001, sequence: 42 }]
        {
            assert_eq!(cursor.to_string().parse::<FeedCursor>(), Ok(cursor));
        }
        assert_eq!("42".parse::<FeedCursor>(), Ok(FeedCursor { transaction: 0, sequence: 42 }));
        for junk in ["", "-1", "1-", "a-1", "1-2-3", "1.5"] {
            assert!(junk.parse::<FeedCursor>().is_err(), "{junk}");
        }
    }
}
