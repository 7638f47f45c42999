//! A crash loop ends: a lease that expires (its worker died or hung) is a lost attempt, and
//! a message whose workers are lost more than `max_retries` times ends `failed`, in the
//! dead letters, with its `notification.failed` event; it never loops for ever.

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use herald::{
    model::{
        AttemptOutcome, AttemptResult, ClaimedMessage, LeaseSweep, MessageEventKind, NewMessage, OutboxEvent,
        SweptLeases,
    },
    ports::Store,
    providers::mock::MockAnswer,
};
use herald_domain::{AccountId, Channel, EventId, MessageId, MessageStatus};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp, TestDb};

on_both_backends!(
    a_lost_lease_uses_a_retry_and_the_last_one_fails_the_message_with_its_event,
    leases_the_job_transport_held_expire_without_using_a_retry,
    a_message_that_hangs_its_worker_every_time_ends_failed_after_max_retries_plus_one_leases,
    a_campaign_whose_message_hangs_every_worker_still_ends,
);

const UNCOUNTED: &str = "amqp-transport";

fn lost(attempt: u32, last: bool) -> String {
    let next = if last { "no retries left" } else { "retrying" };
    format!("attempt {attempt} lost: its worker died or hung past its lease; {next}")
}

fn failed_event(message: &ClaimedMessage, error: &str, at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        event_id: EventId::new(),
        event_type: "notification.failed".into(),
        aggregate_id: message.id.to_string(),
        user_id: message.user_id.clone(),
        payload: json!({"error": error, "attempts": message.retry_count + 1}),
        metadata: json!({"source": "test"}),
        timestamp: at,
    }
}

/// A sweep at `now` where SMS allows `sms` retries and WhatsApp none.
fn sweep(now: DateTime<Utc>, sms: u32) -> LeaseSweep<'static> {
    let max_retries = Channel::ALL.map(|c| if c == Channel::Sms { sms } else { 0 });
    LeaseSweep { now, max_retries, provider: "mock", uncounted_owner: UNCOUNTED, failed_event: &failed_event }
}

async fn store(backend: Backend) -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create(backend).await?;
    let store = herald::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, db))
}

async fn insert(
    store: &Arc<dyn Store>,
    account: AccountId,
    channel: Channel,
    at: DateTime<Utc>,
) -> MessageId {
    let message = NewMessage {
        id: MessageId::new(),
        account_id: account,
        channel,
        recipient: herald_domain::PhoneNumber::parse("+31633450007").unwrap().into(),
        sender: Some("MB".into()),
        body: "hello".into(),
        content: Default::default(),
        user_id: Some("user-1".into()),
        tags: Default::default(),
        created_at: at,
        idempotency: None,
        template: None,
        hold: None,
        events: Vec::new(),
    };
    store.insert_message(&message).await.unwrap();
    message.id
}

async fn a_lost_lease_uses_a_retry_and_the_last_one_fails_the_message_with_its_event(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let start = Utc::now();
    let sms = insert(&store, account, Channel::Sms, start).await;
    let whatsapp = insert(&store, account, Channel::Whatsapp, start).await;
    let max_retries = 2;

    for lease in 0..=max_retries {
        let at = start + Duration::seconds(i64::from(lease) * 10);
        let owner = format!("lost-{lease}");
        let claimed = store.claim_due_messages(&owner, at, at + Duration::seconds(5), 10).await.unwrap();
        assert!(claimed.iter().any(|m| m.id == sms), "lease {lease}: the message is due again");
        assert_eq!(store.requeue_expired_leases(&sweep(at, max_retries)).await.unwrap().total(), 0);

        let expired = at + Duration::seconds(5);
        let swept = store.requeue_expired_leases(&sweep(expired, max_retries)).await.unwrap();
        let row = store.get_message(account, sms).await.unwrap().unwrap();
        let last = lease == max_retries;
        assert_eq!(row.last_error.as_deref(), Some(lost(lease + 1, last).as_str()));
        if last {
            assert_eq!(swept, SweptLeases { failed: 1, ..SweptLeases::default() });
            assert_eq!(row.status, MessageStatus::Failed);
            assert_eq!(row.retry_count, max_retries, "attempts = retry_count + 1, as for provider failures");
            assert_eq!(row.next_attempt_at, None);
            assert_eq!(row.provider.as_deref(), Some("mock"));
        } else {
            // The first sweep also ends the WhatsApp message, whose channel allows no retry.
            let failed = u64::from(lease == 0);
            assert_eq!(swept, SweptLeases { retried: 1, failed, ..SweptLeases::default() });
            assert_eq!(row.status, MessageStatus::Pending);
            assert_eq!(row.retry_count, lease + 1);
            assert_eq!(row.next_attempt_at.map(|t| t.timestamp_millis()), Some(expired.timestamp_millis()));
        }
        assert_eq!(
            store.record_outcomes(&owner, &[sent(account, sms)]).await.unwrap(),
            0,
            "the lost worker's late result is dropped"
        );
    }

    let timeline = store.list_message_events(sms).await.unwrap();
    let entries: Vec<_> =
        timeline.iter().map(|e| (e.kind, e.status, e.detail.clone().unwrap_or_default())).collect();
    assert_eq!(
        entries[1..],
        [
            (MessageEventKind::LeaseExpired, MessageStatus::Pending, lost(1, false)),
            (MessageEventKind::LeaseExpired, MessageStatus::Pending, lost(2, false)),
            (MessageEventKind::LeaseExpired, MessageStatus::Failed, lost(3, true)),
        ]
    );
    let row = store.get_message(account, whatsapp).await.unwrap().unwrap();
    assert_eq!((row.status, row.retry_count), (MessageStatus::Failed, 0));
    assert_eq!(row.last_error.as_deref(), Some(lost(1, true).as_str()));

    let events = store.unpublished_events(10).await.unwrap();
    let failed: Vec<(&str, &Value)> =
        events.iter().map(|e| (e.event.aggregate_id.as_str(), &e.event.payload)).collect();
    let (whatsapp_id, sms_id) = (whatsapp.to_string(), sms.to_string());
    assert_eq!(
        failed,
        [
            (whatsapp_id.as_str(), &json!({"error": lost(1, true), "attempts": 1})),
            (sms_id.as_str(), &json!({"error": lost(3, true), "attempts": 3})),
        ]
    );
    assert!(events.iter().all(|e| e.event.event_type == "notification.failed" && e.account_id == account));

    let dead: HashSet<MessageId> = store
        .list_dead_letters(account, &Default::default(), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(dead, HashSet::from([sms, whatsapp]), "both are dead letters");
    let later = start + Duration::seconds(100);
    assert!(store.claim_due_messages("w", later, later + Duration::seconds(5), 10).await.unwrap().is_empty());
    assert_eq!(store.requeue_expired_leases(&sweep(later, max_retries)).await.unwrap().total(), 0);

    let replayed =
        store.replay_dead_letters(account, Some(&[sms]), &Default::default(), later).await.unwrap();
    assert_eq!(replayed, [sms]);
    let row = store.get_message(account, sms).await.unwrap().unwrap();
    assert_eq!((row.status, row.retry_count), (MessageStatus::Pending, 0), "a replay starts a fresh budget");
}

fn sent(account: AccountId, id: MessageId) -> AttemptOutcome {
    let event = OutboxEvent {
        event_id: EventId::new(),
        event_type: "sms.sent".into(),
        aggregate_id: id.to_string(),
        user_id: None,
        payload: json!({"message_id": id}),
        metadata: json!({"source": "test"}),
        timestamp: Utc::now(),
    };
    let result =
        AttemptResult::Sent { provider: "mock".into(), provider_message_id: None, events: vec![event] };
    AttemptOutcome { message_id: id, account_id: account, at: Utc::now(), result }
}

async fn leases_the_job_transport_held_expire_without_using_a_retry(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let id = insert(&store, account, Channel::Whatsapp, now).await;
    store.claim_due_messages(UNCOUNTED, now, now + Duration::seconds(5), 10).await.unwrap();

    // WhatsApp allows no retry here: a counted lease would fail the message.
    let swept = store.requeue_expired_leases(&sweep(now + Duration::seconds(5), 0)).await.unwrap();

    assert_eq!(swept, SweptLeases { requeued: 1, ..SweptLeases::default() });
    let row = store.get_message(account, id).await.unwrap().unwrap();
    assert_eq!((row.status, row.retry_count, row.last_error), (MessageStatus::Pending, 0, None));
    let last = store.list_message_events(id).await.unwrap().pop().unwrap();
    assert_eq!(last.kind, MessageEventKind::LeaseExpired);
    assert_eq!(last.detail.as_deref(), Some("lease expired before any worker took it; not an attempt"));
    assert!(store.unpublished_events(10).await.unwrap().is_empty());
}

/// A worker whose provider call never ends: it outlives its lease (the provider timeout is
/// longer on purpose, as for a process that froze), so only the lease sweep can move on.
fn hanging_workers(config: &mut herald::config::Config, sms_retries: u32, pipelines: usize) {
    config.dispatch.lease_secs = 1;
    config.dispatch.provider_timeout_ms = 3_600_000;
    // The channel's own limit applies, not the default.
    config.dispatch.max_retries = 10;
    config.channels.sms.max_retries = Some(sms_retries);
    // Each lost lease leaves one pipeline stuck for good; one more stays free.
    config.dispatch.pipelines = pipelines;
    config.dispatch.shutdown_grace_secs = 1;
}

async fn a_message_that_hangs_its_worker_every_time_ends_failed_after_max_retries_plus_one_leases(
    backend: Backend,
) {
    let max_retries = 2;
    let leases = max_retries + 1;
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| {
        hanging_workers(c, max_retries as u32, leases + 1);
    })
    .await
    else {
        return;
    };
    app.mock.push_script((0..leases).map(|_| MockAnswer::Hang));

    let id = app.send_notification("+254712345678", "poison").await;
    let failed = app.wait_for_status(&id, "failed").await;

    assert_eq!(app.mock.calls(), leases as u64, "sent under exactly max_retries + 1 leases");
    let reason = lost(leases as u32, true);
    assert_eq!(failed["last_error"], reason.as_str());
    assert_eq!(failed["retry_count"], max_retries);
    assert_eq!(failed["attempts"], leases);
    let timeline: Vec<(&str, &str, &str)> = failed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["type"].as_str().unwrap(), e["status"].as_str().unwrap(), e["detail"].as_str().unwrap_or(""))
        })
        .collect();
    let expected: Vec<(String, &str)> = (1..=leases as u32)
        .map(|n| (lost(n, n == leases as u32), if n == leases as u32 { "failed" } else { "pending" }))
        .collect();
    assert_eq!(timeline[0].0, "accepted");
    assert_eq!(
        timeline[1..],
        expected
            .iter()
            .map(|(detail, status)| ("lease_expired", *status, detail.as_str()))
            .collect::<Vec<_>>()
    );

    let dead = app.get_json("/api/v1/dead-letters").await;
    assert_eq!(dead["data"].as_array().unwrap().len(), 1);
    assert_eq!(dead["data"][0]["id"], id.as_str());
    assert_eq!(dead["data"][0]["last_error"], reason.as_str());
    let events = app.all_events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_type"], "notification.failed");
    assert_eq!(events[0]["aggregate_id"], id.as_str());
    assert_eq!(events[0]["payload"]["error"], reason.as_str());
    assert_eq!(events[0]["payload"]["attempts"], leases);
    assert_eq!(events[0]["payload"]["provider"], "mock");
    app.wait_for_metric(r#"herald_messages_dead_lettered_total{provider="mock"}"#, 1.0).await;
    app.wait_for_metric(r#"herald_messages_retried_total{provider="mock"}"#, max_retries as f64).await;
    app.wait_for_metric(r#"herald_attempts_failed_total{provider="mock"}"#, leases as f64).await;
    assert_eq!(app.mock.calls(), leases as u64, "a failed message is never claimed again");

    // A replay starts a fresh budget; the provider answers now, through the free pipeline.
    let replay = app.post_json(&format!("/api/v1/dead-letters/{id}/replay"), &json!({})).await;
    assert_eq!(replay.status(), 202);
    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["retry_count"], 0);
    assert_eq!(sent["attempts"], leases + 1, "the lost attempts still count in the history");
    assert_eq!(app.mock.deliveries().len(), 1);
}

async fn a_campaign_whose_message_hangs_every_worker_still_ends(backend: Backend) {
    let max_retries = 1;
    let Some(app) =
        TestApp::spawn_with(backend, herald::app::Roles::ALL, |c| hanging_workers(c, max_retries, 3)).await
    else {
        return;
    };
    app.mock.push_script((0..=max_retries).map(|_| MockAnswer::Hang));
    let response = app.post_json("/api/v1/customers", &json!({"phone": "+254712345671"})).await;
    assert_eq!(response.status(), 201);
    let customer = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let response =
        app.post_json("/campaigns", &json!({"name": "c", "channel": "sms", "base_template": "Hi"})).await;
    assert_eq!(response.status(), 201);
    let campaign = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let send =
        app.post_json(&format!("/campaigns/{campaign}/send"), &json!({"customer_ids": [customer]})).await;
    assert_eq!(send.status(), 202);

    let path = format!("/campaigns/{campaign}");
    let ended = crate::helpers::wait_until(std::time::Duration::from_secs(30), || async {
        app.get_json(&path).await["status"] == "failed"
    })
    .await;
    let detail = app.get_json(&path).await;
    assert!(ended, "the campaign never ended: {detail}");
    assert_eq!(detail["stats"], json!({"total": 1, "pending": 0, "sending": 0, "sent": 0, "failed": 1}));
    assert_eq!(app.mock.calls(), u64::from(max_retries) + 1);
}
