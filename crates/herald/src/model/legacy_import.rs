//! The monolith's notification tables brought into herald (`herald import-monolith`, ADR
//! 0023): what one legacy row becomes, and what the store did with it. Every legacy row
//! has one `legacy_imports` row saying so, keyed by its legacy id.

use chrono::{DateTime, Utc};
use herald_domain::{Channel, MessageId, MessageStatus, TemplateId};

use super::{TemplateContent, TemplateUse};

/// Imported history names the monolith as its provider: it did the sending. Dead letters
/// leave such messages out (a legacy failure is history, not something to replay).
pub const LEGACY_PROVIDER: &str = "monolith";

/// The idempotency key the monolith sends a log with during dual write, and the reference
/// an imported message keeps: `notificationlog-<legacy id>`.
pub const LEGACY_KEY_PREFIX: &str = "notificationlog-";

/// [`LEGACY_KEY_PREFIX`] and the log's id.
pub fn legacy_key(legacy_id: i64) -> String {
    format!("{LEGACY_KEY_PREFIX}{legacy_id}")
}

/// Which legacy table a row comes from (the `legacy_imports.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyKind {
    /// `notifications_notificationtemplate`.
    Template,
    /// `notifications_notificationlog`.
    Log,
}

impl LegacyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Template => "template",
            Self::Log => "log",
        }
    }
}

/// What became of a legacy row (the `legacy_imports.outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyOutcome {
    /// herald holds a template or message made from it.
    Imported,
    /// The monolith sent it through the API during dual write: that message is it.
    DualWritten,
    /// Not importable; the note says why. Tried again whenever the legacy row changes.
    Skipped,
}

impl LegacyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::DualWritten => "dual_written",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Imported, Self::DualWritten, Self::Skipped].into_iter().find(|o| o.as_str() == value)
    }
}

/// A legacy template as herald will hold it.
#[derive(Debug, Clone)]
pub struct TemplateImport {
    pub legacy_id: i64,
    /// Of the legacy row's content: a different one makes the next version.
    pub checksum: String,
    /// The template, or why the legacy one cannot be a herald template.
    pub content: Result<TemplateContent, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Kept on the `legacy_imports` row: why the name is not the legacy one.
    pub note: Option<String>,
}

/// What [`crate::ports::LegacyImportStore::import_template`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateImported {
    Created(TemplateId),
    /// The legacy template changed since it was imported: herald's got this next version.
    Updated {
        id: TemplateId,
        version: u32,
    },
    /// Imported before, and the legacy template is as it was (or skipped, and still is).
    Unchanged,
    /// Another live template has the name: nothing was written (try another name).
    NameTaken,
    Skipped(String),
}

/// A legacy log as herald's history holds it.
#[derive(Debug, Clone)]
pub struct LogImport {
    pub legacy_id: i64,
    /// Of the legacy row: a changed row (a status the monolith settled later) updates the
    /// message imported from it.
    pub checksum: String,
    /// The history row, or why the log cannot be one.
    pub row: Result<HistoryRow, String>,
}

/// A message that is history: terminal, never claimed, no events.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The id it gets if it is inserted.
    pub id: MessageId,
    pub channel: Channel,
    /// The user's address in herald's directory at import time, or empty.
    pub recipient: String,
    pub user_id: Option<String>,
    pub status: MessageStatus,
    pub last_error: Option<String>,
    pub template: Option<TemplateUse>,
    /// The legacy `metadata` (the context the monolith rendered with).
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What [`crate::ports::LegacyImportStore::import_logs`] did with one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogImported {
    Imported,
    /// Imported before, and the legacy row changed since: the message now says what it says.
    Updated,
    /// Imported (or dual-written, or skipped) before, and unchanged since.
    Unchanged,
    /// The monolith sent it through the API: that message is kept, nothing is inserted.
    DualWritten,
    Skipped,
}

/// One `legacy_imports` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyLink {
    pub legacy_id: i64,
    pub outcome: LegacyOutcome,
    /// The template or message, unless skipped.
    pub herald_id: Option<uuid::Uuid>,
    pub checksum: String,
    pub note: Option<String>,
}

/// An imported log as herald holds it now, for `--verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedLog {
    pub legacy_id: i64,
    pub outcome: LegacyOutcome,
    /// The message's values; `None` when skipped, or when the message is gone.
    pub message: Option<HistoryValues>,
}

/// What `--verify` compares of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryValues {
    pub status: MessageStatus,
    pub channel: Channel,
    pub user_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}
