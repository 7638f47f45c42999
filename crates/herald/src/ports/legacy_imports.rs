//! The monolith's notification tables imported into herald (`herald import-monolith`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::AccountId;

use super::StoreResult;
use crate::model::{
    ImportedLog, LegacyKind, LegacyLink, LogImport, LogImported, TemplateImport, TemplateImported,
    TemplateUse, User,
};

/// Every write here happens in one transaction with the `legacy_imports` rows that record
/// it, so an import killed at any point leaves whole batches or nothing. `commit: false`
/// runs the same statements and rolls them back: a dry run sees exactly what a run would
/// do and leaves nothing behind.
#[async_trait]
pub trait LegacyImportStore: Send + Sync {
    /// The default account, if herald has one (reads only: a dry run creates nothing).
    async fn find_default_account(&self) -> StoreResult<Option<AccountId>>;
    /// Creates the herald template for a legacy one, or its next version when the legacy
    /// one changed since, or records why it is skipped; with its `legacy_imports` row.
    async fn import_template(
        &self,
        account: AccountId,
        import: &TemplateImport,
        at: DateTime<Utc>,
        commit: bool,
    ) -> StoreResult<TemplateImported>;
    /// Live templates imported from the monolith, by legacy id, at their current version.
    async fn imported_templates(&self, account: AccountId) -> StoreResult<Vec<(i64, TemplateUse)>>;
    /// The `legacy_imports` rows of `kind` for these legacy ids.
    async fn legacy_links(
        &self,
        account: AccountId,
        kind: LegacyKind,
        ids: &[i64],
    ) -> StoreResult<Vec<LegacyLink>>;
    /// The live users among `ids` (for the addresses of imported history).
    async fn users_of(&self, account: AccountId, ids: &[String]) -> StoreResult<Vec<User>>;
    /// One batch of logs, in one transaction: each log not seen before is inserted as a
    /// history message, unless a message already has its key `notificationlog-<id>`
    /// (dual-written); one seen before is left alone unless it changed. Answers per log,
    /// in batch order.
    async fn import_logs(
        &self,
        account: AccountId,
        batch: &[LogImport],
        at: DateTime<Utc>,
        commit: bool,
    ) -> StoreResult<Vec<LogImported>>;
    /// Imported logs with legacy ids above `after`, in legacy id order, with what their
    /// messages hold now.
    async fn imported_logs(
        &self,
        account: AccountId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ImportedLog>>;
    /// Messages sent with the key of a legacy log that was imported as another message: a
    /// dual write that came after the log was imported (0 when all is well).
    async fn legacy_duplicates(&self, account: AccountId) -> StoreResult<u64>;
}
