//! `CampaignStore`: every method, on both backends.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use herald::model::{
    CampaignFilter, CampaignLink, CampaignStart, CampaignStats, IdempotencyClaim, IdempotentResponse,
    KeyClaim, NewCampaign, PageStart, RenderedMessage, StartOutcome,
};
use herald_domain::{AccountId, CampaignId, CampaignStatus, Channel, CustomerId, MessageStatus};

use super::{
    claim_all, failed, new_campaign, new_customers, new_message, now_ms, retry, sent, start_now,
    started_campaign, store,
};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    an_inserted_campaign_reads_back_with_its_fields_only_in_its_account,
    campaigns_list_newest_first_by_filter_with_the_snapshots_total,
    campaign_stats_count_the_campaigns_messages_by_status,
    starting_a_campaign_creates_one_pending_message_per_recipient,
    a_campaign_starts_once_and_only_from_draft_or_scheduled,
    a_start_naming_unknown_customers_creates_nothing,
    a_start_whose_idempotency_key_is_taken_changes_nothing,
    render_inputs_return_the_templates_and_customers_asked_for,
    rendered_bodies_are_saved_on_their_messages,
    only_scheduled_campaigns_whose_time_has_come_are_due_up_to_the_limit,
    a_campaign_status_moves_only_from_the_listed_statuses,
    campaigns_finish_once_none_of_their_messages_is_pending_or_sending,
);

async fn an_inserted_campaign_reads_back_with_its_fields_only_in_its_account(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let at = now_ms();
    let new = NewCampaign {
        channel: Channel::Whatsapp,
        status: CampaignStatus::Scheduled,
        scheduled_at: Some(at + Duration::hours(1)),
        ..new_campaign(account, "spring", at)
    };

    let inserted = store.insert_campaign(&new).await.unwrap();

    assert_eq!(inserted.account_id, account);
    assert_eq!(
        (inserted.name.as_str(), inserted.channel, inserted.status),
        ("spring", new.channel, new.status)
    );
    assert_eq!(inserted.base_template, new.base_template);
    assert_eq!((inserted.scheduled_at, inserted.created_at, inserted.updated_at), (new.scheduled_at, at, at));
    assert_eq!(store.get_campaign(account, inserted.id).await.unwrap(), Some(inserted.clone()));
    assert_eq!(store.get_campaign(AccountId::new(), inserted.id).await.unwrap(), None);
    let unknown = CampaignId::new(inserted.id.get() + 1);
    assert_eq!(store.get_campaign(account, unknown).await.unwrap(), None);
    let next = store.insert_campaign(&new_campaign(account, "summer", at)).await.unwrap();
    assert!(next.id > inserted.id, "ids grow");
}

async fn campaigns_list_newest_first_by_filter_with_the_snapshots_total(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let at = now_ms();
    let mut ids = Vec::new();
    for (channel, status) in [
        (Channel::Sms, CampaignStatus::Draft),
        (Channel::Email, CampaignStatus::Draft),
        (Channel::Sms, CampaignStatus::Scheduled),
        (Channel::Sms, CampaignStatus::Draft),
        (Channel::Email, CampaignStatus::Scheduled),
    ] {
        let new = NewCampaign { channel, status, ..new_campaign(account, "c", at) };
        ids.push(store.insert_campaign(&new).await.unwrap().id);
    }
    let [c1, c2, c3, c4, c5] = ids[..] else { unreachable!() };
    let all = CampaignFilter::default();
    let list = |filter: CampaignFilter, snapshot: Option<CampaignId>, start: PageStart, limit: u32| {
        let store = store.clone();
        async move {
            let page = store.list_campaigns(account, filter, snapshot, start, limit).await.unwrap();
            (page.campaigns.iter().map(|c| c.id).collect::<Vec<_>>(), page.more, page.total, page.snapshot)
        }
    };

    assert_eq!(list(all, None, PageStart::Offset(0), 2).await, (vec![c5, c4], true, 5, c5));
    assert_eq!(list(all, Some(c5), PageStart::Offset(2), 2).await, (vec![c3, c2], true, 5, c5));
    assert_eq!(list(all, Some(c5), PageStart::Offset(4), 2).await, (vec![c1], false, 5, c5));
    assert_eq!(list(all, Some(c5), PageStart::Below(c4), 2).await, (vec![c3, c2], true, 5, c5));
    assert_eq!(list(all, Some(c5), PageStart::Below(c2), 2).await, (vec![c1], false, 5, c5));

    let sms = CampaignFilter { channel: Some(Channel::Sms), status: None };
    let scheduled = CampaignFilter { channel: None, status: Some(CampaignStatus::Scheduled) };
    let sms_scheduled =
        CampaignFilter { channel: Some(Channel::Sms), status: Some(CampaignStatus::Scheduled) };
    assert_eq!(list(sms, None, PageStart::Offset(0), 10).await, (vec![c4, c3, c1], false, 3, c5));
    assert_eq!(list(scheduled, None, PageStart::Offset(0), 10).await, (vec![c5, c3], false, 2, c5));
    assert_eq!(list(sms_scheduled, None, PageStart::Offset(0), 10).await, (vec![c3], false, 1, c5));

    let c6 = store.insert_campaign(&new_campaign(account, "late", at)).await.unwrap().id;
    assert_eq!(
        list(all, Some(c5), PageStart::Offset(0), 2).await,
        (vec![c5, c4], true, 5, c5),
        "a campaign created after the snapshot does not shift its pages"
    );
    assert_eq!(list(all, None, PageStart::Offset(0), 1).await, (vec![c6], true, 6, c6));
    let elsewhere =
        store.list_campaigns(AccountId::new(), all, None, PageStart::Offset(0), 10).await.unwrap();
    assert!(elsewhere.campaigns.is_empty());
    assert_eq!((elsewhere.more, elsewhere.total), (false, 0));
}

async fn campaign_stats_count_the_campaigns_messages_by_status(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let (campaign, recipients) = started_campaign(store.as_ref(), account, 4, now).await;
    let messages: Vec<_> = recipients.iter().map(|(_, message)| *message).collect();
    let plain = new_message(account, now);
    store.insert_message(&plain).await.unwrap();
    assert_eq!(claim_all(store.as_ref(), "w", now).await.len(), 5);
    let outcomes = [
        sent(account, messages[0]),
        failed(account, messages[1], "mock"),
        retry(account, messages[2], now + Duration::hours(1)),
        sent(account, plain.id),
    ];
    store.record_outcomes("w", &outcomes).await.unwrap();

    let stats = store.campaign_stats(campaign).await.unwrap();

    assert_eq!(stats, CampaignStats { total: 4, pending: 1, sending: 1, sent: 1, failed: 1 });
    let other = CampaignId::new(campaign.get() + 1);
    assert_eq!(store.campaign_stats(other).await.unwrap(), CampaignStats::default());
}

async fn starting_a_campaign_creates_one_pending_message_per_recipient(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let at = now_ms();
    let campaign = store.insert_campaign(&new_campaign(account, "spring", at)).await.unwrap();
    let customers = new_customers(store.as_ref(), account, 3).await;
    let now = at + Duration::seconds(5);
    let start = start_now(account, campaign.id, &customers, now);

    assert_eq!(store.start_campaign(&start).await.unwrap(), StartOutcome::Started);

    let started = store.get_campaign(account, campaign.id).await.unwrap().unwrap();
    assert_eq!((started.status, started.updated_at), (CampaignStatus::Sending, now));
    for (customer_id, message_id) in &start.recipients {
        let customer = store.get_customer(account, *customer_id).await.unwrap().unwrap();
        let message = store.get_message(account, *message_id).await.unwrap().expect("one message each");
        assert_eq!(
            message.campaign,
            Some(CampaignLink { campaign_id: campaign.id, customer_id: *customer_id })
        );
        assert_eq!((message.status, message.channel), (MessageStatus::Pending, campaign.channel));
        assert_eq!(message.recipient.as_str(), customer.fields.phone, "to the customer's phone");
        assert_eq!((message.sender.as_deref(), message.body.as_str()), (Some("MB"), ""), "rendered later");
        assert_eq!((message.next_attempt_at, message.created_at), (Some(now), now));
    }
    let stats = store.campaign_stats(campaign.id).await.unwrap();
    assert_eq!((stats.total, stats.pending), (3, 3));
}

async fn a_campaign_starts_once_and_only_from_draft_or_scheduled(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let customers = new_customers(store.as_ref(), account, 1).await;
    let start = |campaign: CampaignId| start_now(account, campaign, &customers, now);
    let stats_total = |campaign: CampaignId| {
        let store = store.clone();
        async move { store.campaign_stats(campaign).await.unwrap().total }
    };

    let draft = store.insert_campaign(&new_campaign(account, "draft", now)).await.unwrap().id;
    assert_eq!(store.start_campaign(&start(draft)).await.unwrap(), StartOutcome::Started);
    assert_eq!(
        store.start_campaign(&start(draft)).await.unwrap(),
        StartOutcome::NotSendable(CampaignStatus::Sending)
    );
    assert_eq!(stats_total(draft).await, 1, "the second start created nothing");

    let later = now + Duration::hours(1);
    let scheduled = NewCampaign {
        status: CampaignStatus::Scheduled,
        scheduled_at: Some(later),
        ..new_campaign(account, "scheduled", now)
    };
    let scheduled = store.insert_campaign(&scheduled).await.unwrap().id;
    let early = CampaignStart { status: CampaignStatus::Scheduled, due_at: later, ..start(scheduled) };
    assert_eq!(store.start_campaign(&early).await.unwrap(), StartOutcome::Started);
    let campaign = store.get_campaign(account, scheduled).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Scheduled, "waits for its time");
    let message = store.get_message(account, early.recipients[0].1).await.unwrap().unwrap();
    assert_eq!(message.next_attempt_at, Some(later), "its messages are due then");
    assert_eq!(
        store.start_campaign(&start(scheduled)).await.unwrap(),
        StartOutcome::NotSendable(CampaignStatus::Scheduled),
        "its messages exist already"
    );
    assert_eq!(stats_total(scheduled).await, 1);

    for status in [CampaignStatus::Sending, CampaignStatus::Sent, CampaignStatus::Failed] {
        let new = NewCampaign { status, ..new_campaign(account, "ended", now) };
        let campaign = store.insert_campaign(&new).await.unwrap().id;
        assert_eq!(store.start_campaign(&start(campaign)).await.unwrap(), StartOutcome::NotSendable(status));
        assert_eq!(store.get_campaign(account, campaign).await.unwrap().unwrap().status, status);
        assert_eq!(stats_total(campaign).await, 0);
    }

    let fresh = store.insert_campaign(&new_campaign(account, "fresh", now)).await.unwrap().id;
    let elsewhere = CampaignStart { account_id: AccountId::new(), ..start(fresh) };
    assert_eq!(store.start_campaign(&elsewhere).await.unwrap(), StartOutcome::NotFound);
    let unknown = CampaignId::new(fresh.get() + 1);
    assert_eq!(store.start_campaign(&start(unknown)).await.unwrap(), StartOutcome::NotFound);
    assert_eq!(store.get_campaign(account, fresh).await.unwrap().unwrap().status, CampaignStatus::Draft);
}

async fn a_start_naming_unknown_customers_creates_nothing(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let campaign = store.insert_campaign(&new_campaign(account, "spring", now)).await.unwrap().id;
    let known = new_customers(store.as_ref(), account, 2).await;
    let unknown = [CustomerId::new(known[1].get() + 100), CustomerId::new(known[1].get() + 50)];
    let named = [known[0], unknown[0], known[1], unknown[1]];
    let start = start_now(account, campaign, &named, now);

    let outcome = store.start_campaign(&start).await.unwrap();

    let StartOutcome::UnknownCustomers(mut reported) = outcome else { panic!("got {outcome:?}") };
    reported.sort();
    assert_eq!(reported, [unknown[1], unknown[0]]);
    assert_eq!(store.get_campaign(account, campaign).await.unwrap().unwrap().status, CampaignStatus::Draft);
    assert_eq!(store.campaign_stats(campaign).await.unwrap().total, 0);
    assert_eq!(store.get_message(account, start.recipients[0].1).await.unwrap(), None);
    let retried = start_now(account, campaign, &known, now);
    assert_eq!(store.start_campaign(&retried).await.unwrap(), StartOutcome::Started);
}

async fn a_start_whose_idempotency_key_is_taken_changes_nothing(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let customers = new_customers(store.as_ref(), account, 1).await;
    let first = store.insert_campaign(&new_campaign(account, "first", now)).await.unwrap().id;
    let second = store.insert_campaign(&new_campaign(account, "second", now)).await.unwrap().id;
    let keyed = |campaign: CampaignId, key: &str| CampaignStart {
        idempotency: Some(IdempotentResponse { key: key.into(), status: 202, body: "{\"queued\":1}".into() }),
        claim: Some(KeyClaim {
            fingerprint: [3; 32],
            now,
            stale_before: now - Duration::seconds(60),
            expires_at: now + Duration::hours(24),
        }),
        ..start_now(account, campaign, &customers, now)
    };

    assert_eq!(store.start_campaign(&keyed(first, "start-1")).await.unwrap(), StartOutcome::Started);
    let repeat = store.start_campaign(&keyed(second, "start-1")).await.unwrap();

    let completed =
        IdempotencyClaim::Completed { fingerprint: [3; 32], status: 202, body: "{\"queued\":1}".into() };
    assert_eq!(repeat, StartOutcome::KeyTaken(completed));
    assert_eq!(store.get_campaign(account, second).await.unwrap().unwrap().status, CampaignStatus::Draft);
    assert_eq!(store.campaign_stats(second).await.unwrap().total, 0);
    let refused = store.start_campaign(&keyed(first, "start-2")).await.unwrap();
    assert_eq!(refused, StartOutcome::NotSendable(CampaignStatus::Sending));
    assert_eq!(
        store.start_campaign(&keyed(second, "start-2")).await.unwrap(),
        StartOutcome::Started,
        "a start that did not happen keeps no key"
    );
}

async fn render_inputs_return_the_templates_and_customers_asked_for(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let hello = store.insert_campaign(&new_campaign(account, "hello", now)).await.unwrap().id;
    let bye = NewCampaign { base_template: "Bye {first_name}".into(), ..new_campaign(account, "bye", now) };
    let bye = store.insert_campaign(&bye).await.unwrap().id;
    let not_asked = store.insert_campaign(&new_campaign(account, "other", now)).await.unwrap().id;
    let customers = new_customers(store.as_ref(), account, 3).await;
    let unknown_campaign = CampaignId::new(not_asked.get() + 1);
    let unknown_customer = CustomerId::new(customers[2].get() + 1);

    let (templates, found) = store
        .render_inputs(&[hello, bye, unknown_campaign], &[customers[0], customers[2], unknown_customer])
        .await
        .unwrap();

    let expected: HashMap<CampaignId, String> =
        [(hello, "Hi {first_name}".to_owned()), (bye, "Bye {first_name}".to_owned())].into();
    assert_eq!(templates, expected);
    assert_eq!(found.keys().copied().collect::<HashSet<_>>(), [customers[0], customers[2]].into());
    for id in [customers[0], customers[2]] {
        assert_eq!(Some(&found[&id]), store.get_customer(account, id).await.unwrap().as_ref());
    }
    let (templates, found) = store.render_inputs(&[], &[]).await.unwrap();
    assert!(templates.is_empty() && found.is_empty());
}

async fn rendered_bodies_are_saved_on_their_messages(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let (_, recipients) = started_campaign(store.as_ref(), account, 2, now).await;
    let (first, second) = (recipients[0].1, recipients[1].1);
    let at = now + Duration::seconds(1);

    let before = store.get_message(account, first).await.unwrap().unwrap();
    assert_eq!(before.segments, None, "not rendered yet: no text to count");
    let long = format!("Hi Baraka {}", "x".repeat(200));
    let rendered = [
        RenderedMessage { id: first, body: "Hi Amina".into(), sender: None, segments: Some(1) },
        RenderedMessage { id: second, body: long.clone(), sender: Some("ACME".into()), segments: Some(2) },
    ];
    store.save_rendered(&rendered, at).await.unwrap();
    store.save_rendered(&[], at).await.unwrap();

    for (id, body, segments) in [(first, "Hi Amina", 1), (second, long.as_str(), 2)] {
        let message = store.get_message(account, id).await.unwrap().unwrap();
        assert_eq!((message.body.as_str(), message.updated_at), (body, at));
        assert_eq!(message.segments, Some(segments), "the rendered text's SMS parts are stored");
    }
    let kept = store.get_message(account, first).await.unwrap().unwrap();
    assert_eq!(kept.sender, before.sender, "no route sender: the sender it was created with");
    let routed = store.get_message(account, second).await.unwrap().unwrap();
    assert_eq!(routed.sender.as_deref(), Some("ACME"), "the route's sender");
    let claimed = store.claim_due_messages("w", at, at + Duration::seconds(30), 10).await.unwrap();
    let bodies: HashSet<&str> = claimed.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Hi Amina", long.as_str()].into(), "the worker sends what was rendered");
}

async fn only_scheduled_campaigns_whose_time_has_come_are_due_up_to_the_limit(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let at = |minutes: i64| now + Duration::minutes(minutes);
    let campaign = |status: CampaignStatus, scheduled_at| {
        let store = store.clone();
        async move {
            let new =
                NewCampaign { status, scheduled_at: Some(scheduled_at), ..new_campaign(account, "c", now) };
            store.insert_campaign(&new).await.unwrap().id
        }
    };
    let earlier = campaign(CampaignStatus::Scheduled, at(-120)).await;
    let started_early = campaign(CampaignStatus::Scheduled, at(-60)).await;
    campaign(CampaignStatus::Scheduled, at(60)).await;
    campaign(CampaignStatus::Draft, at(-180)).await;
    campaign(CampaignStatus::Sending, at(-180)).await;
    let customers = new_customers(store.as_ref(), account, 1).await;
    let start = CampaignStart {
        status: CampaignStatus::Scheduled,
        due_at: at(-60),
        ..start_now(account, started_early, &customers, at(-90))
    };
    assert_eq!(store.start_campaign(&start).await.unwrap(), StartOutcome::Started);

    let due: HashSet<_> = store.due_campaigns(now, 10).await.unwrap().into_iter().collect();

    assert_eq!(due, [(earlier, account, false), (started_early, account, true)].into());
    assert_eq!(store.due_campaigns(now, 1).await.unwrap().len(), 1, "at most the limit");
    assert_eq!(store.due_campaigns(at(-90), 10).await.unwrap(), [(earlier, account, false)]);
    assert!(store.due_campaigns(at(-150), 10).await.unwrap().is_empty());
}

async fn a_campaign_status_moves_only_from_the_listed_statuses(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let campaign = store.insert_campaign(&new_campaign(account, "spring", now)).await.unwrap().id;
    let later = now + Duration::seconds(5);
    let status = |id: CampaignId| {
        let store = store.clone();
        async move { store.get_campaign(account, id).await.unwrap().unwrap() }
    };
    use CampaignStatus::{Draft, Scheduled, Sending, Sent};

    assert!(!store.set_campaign_status(campaign, &[Scheduled, Sending], Sent, later).await.unwrap());
    assert_eq!(status(campaign).await.status, Draft, "not from a status it is not in");
    assert!(store.set_campaign_status(campaign, &[Draft, Scheduled], Sending, later).await.unwrap());
    let moved = status(campaign).await;
    assert_eq!((moved.status, moved.updated_at), (Sending, later));
    assert!(!store.set_campaign_status(campaign, &[Draft], Sending, later).await.unwrap(), "it left draft");
    assert!(!store.set_campaign_status(campaign, &[], Sent, later).await.unwrap());
    let unknown = CampaignId::new(campaign.get() + 1);
    assert!(!store.set_campaign_status(unknown, &[Sending], Sent, later).await.unwrap());
    assert_eq!(status(campaign).await.status, Sending);
}

async fn campaigns_finish_once_none_of_their_messages_is_pending_or_sending(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let later = now + Duration::seconds(5);
    let (mixed, mixed_messages) = started_campaign(store.as_ref(), account, 2, now).await;
    let (lost, lost_messages) = started_campaign(store.as_ref(), account, 1, now).await;
    let status = |id: CampaignId| {
        let store = store.clone();
        async move { store.get_campaign(account, id).await.unwrap().unwrap().status }
    };
    assert_eq!(claim_all(store.as_ref(), "w", now).await.len(), 3);
    store.record_outcomes("w", &[sent(account, mixed_messages[0].1)]).await.unwrap();

    assert_eq!(store.finish_campaigns(&[mixed, lost], later).await.unwrap(), 0, "messages still sending");
    store
        .record_outcomes(
            "w",
            &[failed(account, mixed_messages[1].1, "mock"), failed(account, lost_messages[0].1, "mock")],
        )
        .await
        .unwrap();
    assert_eq!(store.finish_campaigns(&[mixed], later).await.unwrap(), 1);
    assert_eq!((status(mixed).await, status(lost).await), (CampaignStatus::Sent, CampaignStatus::Sending));
    assert_eq!(store.finish_campaigns(&[mixed, lost], later).await.unwrap(), 1, "the one still open");
    assert_eq!(status(lost).await, CampaignStatus::Failed, "every message failed");
    assert_eq!(store.finish_campaigns(&[mixed, lost], later).await.unwrap(), 0, "ended once");
    assert_eq!(store.finish_campaigns(&[], later).await.unwrap(), 0);

    let at = now + Duration::hours(1);
    let new = NewCampaign {
        status: CampaignStatus::Scheduled,
        scheduled_at: Some(at),
        ..new_campaign(account, "s", now)
    };
    let scheduled = store.insert_campaign(&new).await.unwrap().id;
    let customers = new_customers(store.as_ref(), account, 1).await;
    let start = CampaignStart {
        status: CampaignStatus::Scheduled,
        due_at: at,
        ..start_now(account, scheduled, &customers, now)
    };
    assert_eq!(store.start_campaign(&start).await.unwrap(), StartOutcome::Started);
    claim_all(store.as_ref(), "w", at).await;
    store.record_outcomes("w", &[sent(account, start.recipients[0].1)]).await.unwrap();
    let before_its_time = at - Duration::minutes(1);
    assert_eq!(store.finish_campaigns(&[scheduled], before_its_time).await.unwrap(), 0, "not due yet");
    assert_eq!(status(scheduled).await, CampaignStatus::Scheduled);
    assert_eq!(store.finish_campaigns(&[scheduled], at).await.unwrap(), 1);
    assert_eq!(status(scheduled).await, CampaignStatus::Sent);

    let never_started = store.insert_campaign(&new_campaign(account, "draft", now)).await.unwrap().id;
    assert_eq!(store.finish_campaigns(&[never_started], later).await.unwrap(), 0, "no messages, no end");
    assert_eq!(status(never_started).await, CampaignStatus::Draft);
}
