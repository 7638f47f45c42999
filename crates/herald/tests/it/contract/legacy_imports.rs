//! `LegacyImportStore`: the monolith's rows written with their mapping, once.

use chrono::Utc;
use herald::model::{
    ClientTags, HistoryRow, LegacyKind, LegacyOutcome, LogImport, LogImported, TemplateContent,
    TemplateImport, TemplateImported,
};
use herald_domain::{Channel, MessageId, MessageStatus};

use super::{new_message, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    import_logs_inserts_each_log_once_records_skips_and_updates_changed_ones,
    import_logs_finds_a_dual_written_log_by_its_key_and_inserts_nothing,
    import_logs_without_commit_writes_nothing,
    import_template_creates_then_versions_and_reports_a_taken_name,
);

fn history(status: MessageStatus) -> HistoryRow {
    HistoryRow {
        id: MessageId::new(),
        channel: Channel::Sms,
        recipient: String::new(),
        user_id: Some("12345".into()),
        status,
        last_error: None,
        template: None,
        metadata: Some(serde_json::json!({"code": 1})),
        created_at: "2024-03-05T10:00:00Z".parse().unwrap(),
        sent_at: Some("2024-03-05T10:00:00Z".parse().unwrap()),
    }
}

fn log(legacy_id: i64, checksum: &str, row: Result<HistoryRow, String>) -> LogImport {
    LogImport { legacy_id, checksum: checksum.into(), row }
}

async fn import_logs_inserts_each_log_once_records_skips_and_updates_changed_ones(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let batch = [
        log(1, "a", Ok(history(MessageStatus::Sent))),
        log(2, "b", Ok(history(MessageStatus::Failed))),
        log(3, "c", Err("type \"fax\" is not a channel".into())),
    ];
    let first = store.import_logs(account, &batch, Utc::now(), true).await.unwrap();
    assert_eq!(first, [LogImported::Imported, LogImported::Imported, LogImported::Skipped]);

    let again = store.import_logs(account, &batch, Utc::now(), true).await.unwrap();
    assert_eq!(again, [LogImported::Unchanged; 3], "a re-run changes nothing");
    let message = store.get_message(account, batch[0].row.as_ref().unwrap().id).await.unwrap().unwrap();
    assert_eq!((message.status, message.next_attempt_at), (MessageStatus::Sent, None));
    assert_eq!(message.tags.reference.as_deref(), Some("notificationlog-1"));
    assert_eq!(message.provider.as_deref(), Some("monolith"));

    let changed =
        [log(1, "a2", Ok(history(MessageStatus::Delivered))), log(3, "c2", Ok(history(MessageStatus::Sent)))];
    let outcomes = store.import_logs(account, &changed, Utc::now(), true).await.unwrap();
    assert_eq!(
        outcomes,
        [LogImported::Updated, LogImported::Imported],
        "a skipped log is tried again once it changes"
    );
    let message = store.get_message(account, batch[0].row.as_ref().unwrap().id).await.unwrap().unwrap();
    assert_eq!(message.status, MessageStatus::Delivered, "the first message, updated");

    let links = store.legacy_links(account, LegacyKind::Log, &[1, 2, 3]).await.unwrap();
    assert_eq!(links.len(), 3);
    assert!(links.iter().all(|link| link.outcome == LegacyOutcome::Imported));
    let held = store.imported_logs(account, 0, 10).await.unwrap();
    assert_eq!(held.iter().map(|h| h.legacy_id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(store.legacy_duplicates(account).await.unwrap(), 0);
}

async fn import_logs_finds_a_dual_written_log_by_its_key_and_inserts_nothing(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let mut sent = new_message(account, Utc::now());
    sent.tags = ClientTags { idempotency_key: Some("notificationlog-7".into()), ..ClientTags::default() };
    store.insert_message(&sent).await.unwrap();

    let outcomes = store
        .import_logs(account, &[log(7, "x", Ok(history(MessageStatus::Sent)))], Utc::now(), true)
        .await
        .unwrap();
    assert_eq!(outcomes, [LogImported::DualWritten]);
    assert_eq!(store.status_counts().await.unwrap().total(), 1, "nothing inserted");
    let links = store.legacy_links(account, LegacyKind::Log, &[7]).await.unwrap();
    assert_eq!(links[0].herald_id, Some(sent.id.as_uuid()));

    // A dual write that comes after the log was imported is a duplicate, and is counted.
    let mut late = new_message(account, Utc::now());
    late.tags = ClientTags { idempotency_key: Some("notificationlog-8".into()), ..ClientTags::default() };
    store
        .import_logs(account, &[log(8, "y", Ok(history(MessageStatus::Sent)))], Utc::now(), true)
        .await
        .unwrap();
    store.insert_message(&late).await.unwrap();
    assert_eq!(store.legacy_duplicates(account).await.unwrap(), 1);
}

async fn import_logs_without_commit_writes_nothing(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let outcomes = store
        .import_logs(account, &[log(1, "a", Ok(history(MessageStatus::Sent)))], Utc::now(), false)
        .await
        .unwrap();
    assert_eq!(outcomes, [LogImported::Imported], "what a run would do");
    assert_eq!(store.status_counts().await.unwrap().total(), 0);
    assert!(store.legacy_links(account, LegacyKind::Log, &[1]).await.unwrap().is_empty());
}

async fn import_template_creates_then_versions_and_reports_a_taken_name(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let content = |name: &str, body: &str| TemplateContent {
        name: name.into(),
        channel: Channel::Sms,
        subject: None,
        body: body.into(),
        html: None,
        variables: Vec::new(),
        category: None,
        transactional: false,
    };
    let at = "2023-06-01T09:00:00Z".parse().unwrap();
    let import = |legacy_id, checksum: &str, content| TemplateImport {
        legacy_id,
        checksum: checksum.into(),
        content,
        created_at: at,
        updated_at: at,
        note: None,
    };
    let write = |import: TemplateImport| {
        let store = store.clone();
        async move { store.import_template(account, &import, Utc::now(), true).await.unwrap() }
    };
    let TemplateImported::Created(id) = write(import(1, "a", Ok(content("receipt", "Paid")))).await else {
        panic!("created")
    };
    assert_eq!(write(import(1, "a", Ok(content("receipt", "Paid")))).await, TemplateImported::Unchanged);
    assert_eq!(
        write(import(1, "b", Ok(content("receipt", "Paid!")))).await,
        TemplateImported::Updated { id, version: 2 }
    );
    assert_eq!(
        write(import(2, "c", Ok(content("receipt", "Other")))).await,
        TemplateImported::NameTaken,
        "nothing written; the caller picks another name"
    );
    assert_eq!(
        write(import(3, "d", Err("no subject".into()))).await,
        TemplateImported::Skipped("no subject".into())
    );

    let imported = store.imported_templates(account).await.unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!((imported[0].0, imported[0].1.id, imported[0].1.version), (1, id, 2));
    let links = store.legacy_links(account, LegacyKind::Template, &[1, 2, 3]).await.unwrap();
    let outcomes: Vec<_> = links.iter().map(|l| (l.legacy_id, l.outcome)).collect();
    assert_eq!(outcomes, [(1, LegacyOutcome::Imported), (3, LegacyOutcome::Skipped)]);
}
