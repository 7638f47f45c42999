//! What the notifications API needs of the store, on both backends: holds stored with the
//! insert (`insert_message`), `find_template`, preferences (`UserStore`), `user_history`
//! and `change_status`.

use chrono::{Duration, NaiveTime, Utc};
use herald::model::{
    HistoryFilter, Hold, MessageCursor, Preferences, StatusChange, StatusChanged, TemplateContent,
    TemplateFound, TemplateUse, TemplateWrite,
};
use herald_domain::{Channel, MessageStatus, QuietHours, TemplateId, UserId};

use super::{event, new_message, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    insert_message_stores_a_hold_scheduled_until_due_or_suppressed_with_its_events,
    find_template_names_live_templates_by_id_or_name_and_tells_deleted_from_unknown,
    put_preferences_replaces_them_and_get_preferences_reads_them_back,
    user_history_pages_one_users_messages_newest_first_with_the_template_name,
    change_status_moves_only_from_the_statuses_given_and_says_what_it_found,
);

fn content(name: &str) -> TemplateContent {
    TemplateContent {
        name: name.into(),
        channel: Channel::Sms,
        subject: None,
        body: "Code {code}".into(),
        html: None,
        variables: Vec::new(),
        category: None,
        transactional: false,
    }
}

async fn insert_message_stores_a_hold_scheduled_until_due_or_suppressed_with_its_events(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let until = now + Duration::minutes(10);
    let mut scheduled = new_message(account, now);
    scheduled.hold = Some(Hold::Until { until, reason: "send_at".into() });
    store.insert_message(&scheduled).await.unwrap();
    let mut suppressed = new_message(account, now);
    suppressed.hold = Some(Hold::Suppressed { reason: "opted out".into() });
    suppressed.events = vec![event(suppressed.id, "notification.suppressed")];
    store.insert_message(&suppressed).await.unwrap();

    let stored = store.get_message(account, scheduled.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Scheduled);
    assert_eq!(stored.next_attempt_at.map(|t| t.timestamp_millis()), Some(until.timestamp_millis()));
    let stored = store.get_message(account, suppressed.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.last_error.as_deref()), (MessageStatus::Suppressed, Some("opted out")));
    let kinds: Vec<String> = store
        .list_message_events(suppressed.id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    assert_eq!(kinds, ["accepted", "suppressed"]);
    let events = store.unpublished_events(10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.event_type, "notification.suppressed");

    // Not claimed before it is due; claimed like a pending message after.
    assert!(store.claim_due_messages("w", now, now + Duration::minutes(1), 10).await.unwrap().is_empty());
    let later = until + Duration::seconds(1);
    let claimed = store.claim_due_messages("w", later, later + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [scheduled.id]);
}

async fn find_template_names_live_templates_by_id_or_name_and_tells_deleted_from_unknown(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let id = TemplateId::new();
    assert!(matches!(
        store.insert_template(account, id, &content("otp"), now).await.unwrap(),
        TemplateWrite::Done(_)
    ));
    let by_name = store.find_template(account, "otp").await.unwrap();
    let by_id = store.find_template(account, &id.to_string()).await.unwrap();
    assert!(matches!(&by_name, TemplateFound::Live(t) if t.id == id));
    assert_eq!(by_name, by_id);
    assert_eq!(store.find_template(account, "nope").await.unwrap(), TemplateFound::Unknown);
    assert_eq!(
        store.find_template(account, &TemplateId::new().to_string()).await.unwrap(),
        TemplateFound::Unknown
    );

    assert!(store.delete_template(account, id, now).await.unwrap());
    assert_eq!(store.find_template(account, "otp").await.unwrap(), TemplateFound::Deleted);
    assert_eq!(store.find_template(account, &id.to_string()).await.unwrap(), TemplateFound::Deleted);
    // A new template may take the freed name: the live one is found.
    let again = TemplateId::new();
    store.insert_template(account, again, &content("otp"), now).await.unwrap();
    assert!(
        matches!(store.find_template(account, "otp").await.unwrap(), TemplateFound::Live(t) if t.id == again)
    );
}

async fn put_preferences_replaces_them_and_get_preferences_reads_them_back(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let user = UserId::parse("12345").unwrap();
    assert_eq!(store.get_preferences(account, &user).await.unwrap(), None);
    let at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let preferences = Preferences {
        channels_off: [Channel::Sms, Channel::Push].into(),
        opted_out_categories: ["marketing".to_owned()].into(),
        quiet_hours: Some(QuietHours::new(
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(7, 30, 0).unwrap(),
        )),
    };
    let stored = store.put_preferences(account, &user, &preferences, at).await.unwrap();
    assert_eq!(store.get_preferences(account, &user).await.unwrap(), Some(stored));
    let replaced = store.put_preferences(account, &user, &Preferences::default(), at).await.unwrap();
    assert_eq!(store.get_preferences(account, &user).await.unwrap(), Some(replaced));
    let other = herald_domain::AccountId::new();
    assert_eq!(store.get_preferences(other, &user).await.unwrap(), None);
}

async fn user_history_pages_one_users_messages_newest_first_with_the_template_name(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let now = Utc::now();
    let template = TemplateId::new();
    store.insert_template(account, template, &content("otp"), now).await.unwrap();
    let mut ids = Vec::new();
    for minutes in 0..5 {
        let mut message = new_message(account, now + Duration::minutes(minutes));
        message.user_id = Some("12345".into());
        if minutes % 2 == 0 {
            message.template = Some(TemplateUse { id: template, version: 1 });
        }
        store.insert_message(&message).await.unwrap();
        ids.push(message.id);
    }
    let mut someone_else = new_message(account, now);
    someone_else.user_id = Some("67890".into());
    store.insert_message(&someone_else).await.unwrap();

    let user = UserId::parse("12345").unwrap();
    let all = HistoryFilter::default();
    let first = store.user_history(account, &user, &all, None, 3).await.unwrap();
    let last = &first[2].message;
    let cursor = MessageCursor { created_at: last.created_at, id: last.id };
    let second = store.user_history(account, &user, &all, Some(cursor), 3).await.unwrap();
    let listed: Vec<_> = first.iter().chain(&second).map(|e| e.message.id).collect();
    assert_eq!(listed, ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(first[0].template_name.as_deref(), Some("otp"));
    assert_eq!(first[1].template_name, None);

    let by_template = HistoryFilter { template: Some(template), ..HistoryFilter::default() };
    assert_eq!(store.user_history(account, &user, &by_template, None, 10).await.unwrap().len(), 3);
    let window = HistoryFilter {
        since: Some(now + Duration::minutes(1)),
        until: Some(now + Duration::minutes(3)),
        ..HistoryFilter::default()
    };
    let middle: Vec<_> = store
        .user_history(account, &user, &window, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.message.id)
        .collect();
    assert_eq!(middle, [ids[2], ids[1]]);
    let failed = HistoryFilter { status: Some(MessageStatus::Failed), ..HistoryFilter::default() };
    assert!(store.user_history(account, &user, &failed, None, 10).await.unwrap().is_empty());
}

async fn change_status_moves_only_from_the_statuses_given_and_says_what_it_found(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let message = new_message(account, Utc::now());
    store.insert_message(&message).await.unwrap();
    let change = |to, from: &'static [MessageStatus]| StatusChange {
        account,
        id: message.id,
        to,
        from,
        detail: format!("set to {to}"),
        at: Utc::now(),
    };
    let publish = |m: &herald::model::Message| event(m.id, "notification.test");

    let refused =
        store.change_status(&change(MessageStatus::Read, &[MessageStatus::Sent]), &publish).await.unwrap();
    assert_eq!(refused, StatusChanged::Refused(MessageStatus::Pending));
    assert!(store.unpublished_events(10).await.unwrap().is_empty(), "a refused change writes nothing");

    let cancel = change(MessageStatus::Cancelled, &[MessageStatus::Pending, MessageStatus::Scheduled]);
    let StatusChanged::Changed(cancelled) = store.change_status(&cancel, &publish).await.unwrap() else {
        panic!("a pending message can be cancelled")
    };
    assert_eq!((cancelled.status, cancelled.next_attempt_at), (MessageStatus::Cancelled, None));
    let last = store.list_message_events(message.id).await.unwrap().pop().unwrap();
    assert_eq!((last.kind.as_str(), last.status), ("status_changed", MessageStatus::Cancelled));
    assert_eq!(store.unpublished_events(10).await.unwrap().len(), 1);
    let now = Utc::now();
    assert!(store.claim_due_messages("w", now, now + Duration::minutes(1), 10).await.unwrap().is_empty());
    assert_eq!(
        store.change_status(&cancel, &publish).await.unwrap(),
        StatusChanged::Refused(MessageStatus::Cancelled)
    );

    let other = herald_domain::AccountId::new();
    let elsewhere = StatusChange { account: other, ..cancel.clone() };
    assert_eq!(store.change_status(&elsewhere, &publish).await.unwrap(), StatusChanged::NotFound);
}
