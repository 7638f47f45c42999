//! Notification templates: named, typed by channel, versioned; a change is a new version,
//! and a delete is soft (messages keep the version they were sent with).

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, Channel, TemplateId};
use serde::{Deserialize, Serialize};

/// A variable a template's context may give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVariable {
    pub name: String,
    /// A send without it is refused (422 naming it).
    pub required: bool,
}

/// What a template says, in one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContent {
    pub name: String,
    pub channel: Channel,
    /// Email subject or push title.
    pub subject: Option<String>,
    pub body: String,
    /// An email's HTML body (context values are HTML-escaped into it).
    pub html: Option<String>,
    pub variables: Vec<TemplateVariable>,
    /// Preferences can opt out of a category (`marketing`, `security`).
    pub category: Option<String>,
    /// One-time codes and receipts: quiet hours and category opt-outs do not hold them back.
    pub transactional: bool,
}

/// A stored template at its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: TemplateId,
    pub account_id: AccountId,
    pub version: u32,
    pub content: TemplateContent,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a template write was refused by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateWrite {
    Done(Box<Template>),
    /// Another live template of the account has this name.
    NameTaken,
    /// No live template has this id.
    NotFound,
}

/// What a send's template reference (an id or a name) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateFound {
    Live(Box<Template>),
    /// Only a deleted template has this id or name.
    Deleted,
    Unknown,
}
