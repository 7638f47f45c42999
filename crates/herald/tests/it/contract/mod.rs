//! The store contract, one file per port: each test runs unchanged against SQLite and
//! PostgreSQL and asserts what the port's doc comment promises. A file is named after its
//! port (`accounts.rs` for `AccountStore`, `lifecycle.rs` for `Store` itself), and each test
//! after the promise it checks, so a method's tests are found by its name.

mod accounts;
mod customers;
mod idempotency;
mod lifecycle;
mod messages;
mod outbox;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald::{
    model::{AttemptOutcome, AttemptResult, NewMessage, OutboxEvent},
    ports::Store,
};
use herald_domain::{AccountId, Channel, EventId, MessageId};
use serde_json::json;

use crate::helpers::{Backend, TestDb};

/// A migrated store on a fresh database; `None` when the backend is not reachable here.
pub(crate) async fn store(backend: Backend) -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create(backend).await?;
    let store = herald::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}

/// An SMS from the default sender, created (and so due) at `created_at`.
pub(crate) fn new_message(account: AccountId, created_at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        account_id: account,
        channel: Channel::Sms,
        recipient: herald_domain::PhoneNumber::parse("+31633450007").unwrap().into(),
        sender: Some("MB".into()),
        body: "hello".into(),
        user_id: Some("user-1".into()),
        tags: Default::default(),
        created_at,
        idempotency: None,
    }
}

/// An outbox event about `message`.
pub(crate) fn event(message: MessageId, event_type: &str) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: event_type.into(),
        aggregate_id: message.to_string(),
        user_id: None,
        payload: json!({"message_id": message}),
        metadata: json!({"source": "test"}),
        timestamp: Utc::now(),
    }
}

/// The provider "mock" accepted the message.
pub(crate) fn sent(account: AccountId, id: MessageId) -> AttemptOutcome {
    AttemptOutcome {
        message_id: id,
        account_id: account,
        at: Utc::now(),
        result: AttemptResult::Sent {
            provider: "mock".into(),
            provider_message_id: Some("p-1".into()),
            event: event(id, "sms.sent"),
        },
    }
}
