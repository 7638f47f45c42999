//! The store contract, one file per port: each test runs unchanged against SQLite and
//! PostgreSQL (the few about what one backend alone does, on that one) and asserts what the
//! port's doc comment promises. A file is named after its port (`accounts.rs` for
//! `AccountStore`, `lifecycle.rs` for `Store` itself) and a test after the promise it
//! checks, in its method's words (`release_leases`: `released_leases_go_back_to_pending_...`).

mod accounts;
mod campaigns;
mod customers;
mod idempotency;
mod legacy_imports;
mod lifecycle;
mod messages;
mod notifications;
mod outbox;
mod rate_limits;
mod users;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald::{
    model::{
        AttemptOutcome, AttemptResult, CampaignStart, CustomerFields, NewCampaign, NewMessage, OutboxEvent,
        StartOutcome,
    },
    ports::Store,
};
use herald_domain::{AccountId, CampaignId, CampaignStatus, Channel, CustomerId, EventId, MessageId};
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
        content: Default::default(),
        user_id: Some("user-1".into()),
        tags: Default::default(),
        created_at,
        idempotency: None,
        template: None,
        hold: None,
        events: Vec::new(),
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
            events: vec![event(id, "sms.sent")],
        },
    }
}

/// The provider `provider` refused the message for good.
pub(crate) fn failed(account: AccountId, id: MessageId, provider: &str) -> AttemptOutcome {
    AttemptOutcome {
        message_id: id,
        account_id: account,
        at: Utc::now(),
        result: AttemptResult::Failed {
            provider: provider.into(),
            error: "invalid number".into(),
            event: event(id, "notification.failed"),
        },
    }
}

/// The provider "mock" failed the attempt; the next one is due at `next_attempt_at`.
pub(crate) fn retry(account: AccountId, id: MessageId, next_attempt_at: DateTime<Utc>) -> AttemptOutcome {
    AttemptOutcome {
        message_id: id,
        account_id: account,
        at: Utc::now(),
        result: AttemptResult::RetryScheduled {
            provider: "mock".into(),
            error: "503".into(),
            next_attempt_at,
        },
    }
}

/// The current time to the millisecond, which both backends store exactly: a time read
/// back then equals the one written.
pub(crate) fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a valid time")
}

/// Claims every message due at `now` for `owner`, under a one-minute lease; their ids.
pub(crate) async fn claim_all(store: &dyn Store, owner: &str, now: DateTime<Utc>) -> Vec<MessageId> {
    let claimed = store.claim_due_messages(owner, now, now + Duration::seconds(60), 1_000).await.unwrap();
    claimed.into_iter().map(|message| message.id).collect()
}

/// A draft SMS campaign of `account`, created at `at`.
pub(crate) fn new_campaign(account: AccountId, name: &str, at: DateTime<Utc>) -> NewCampaign {
    NewCampaign {
        account_id: account,
        name: name.into(),
        channel: Channel::Sms,
        status: CampaignStatus::Draft,
        base_template: "Hi {first_name}".into(),
        scheduled_at: None,
        created_at: at,
    }
}

/// `count` new customers of `account`, in id order.
pub(crate) async fn new_customers(store: &dyn Store, account: AccountId, count: usize) -> Vec<CustomerId> {
    let customers: Vec<CustomerFields> = (0..count)
        .map(|n| CustomerFields {
            phone: format!("+2547100000{n:02}"),
            first_name: Some(format!("Customer {n}")),
            ..Default::default()
        })
        .collect();
    store.insert_customers(account, &customers, Utc::now()).await.unwrap()
}

/// A start of `campaign` at `now`, due at once, giving each customer a new message.
pub(crate) fn start_now(
    account: AccountId,
    campaign: CampaignId,
    customers: &[CustomerId],
    now: DateTime<Utc>,
) -> CampaignStart {
    CampaignStart {
        account_id: account,
        campaign_id: campaign,
        recipients: customers.iter().map(|customer| (*customer, MessageId::new())).collect(),
        sender: "MB".into(),
        status: CampaignStatus::Sending,
        due_at: now,
        now,
        idempotency: None,
        claim: None,
    }
}

/// A draft campaign started at `now` to `count` new customers: its id, and each customer
/// with the id of their message.
pub(crate) async fn started_campaign(
    store: &dyn Store,
    account: AccountId,
    count: usize,
    now: DateTime<Utc>,
) -> (CampaignId, Vec<(CustomerId, MessageId)>) {
    let campaign = store.insert_campaign(&new_campaign(account, "started", now)).await.unwrap();
    let customers = new_customers(store, account, count).await;
    let start = start_now(account, campaign.id, &customers, now);
    assert_eq!(store.start_campaign(&start).await.unwrap(), StartOutcome::Started);
    (campaign.id, start.recipients)
}
