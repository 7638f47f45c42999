//! Notification templates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, Channel, TemplateId};

use super::StoreResult;
use crate::model::{Template, TemplateContent, TemplateFound, TemplateWrite};

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Stores a new template at version 1, unless a live template of the account has its name.
    async fn insert_template(
        &self,
        account: AccountId,
        id: TemplateId,
        content: &TemplateContent,
        at: DateTime<Utc>,
    ) -> StoreResult<TemplateWrite>;
    /// Adds the next version of a live template (its name may change, within the same rule).
    async fn update_template(
        &self,
        account: AccountId,
        id: TemplateId,
        content: &TemplateContent,
        at: DateTime<Utc>,
    ) -> StoreResult<TemplateWrite>;
    /// The live template at its current version.
    async fn get_template(&self, account: AccountId, id: TemplateId) -> StoreResult<Option<Template>>;
    /// The template a send names by id or by name: the live one, else whether a deleted
    /// one had that id or name.
    async fn find_template(&self, account: AccountId, reference: &str) -> StoreResult<TemplateFound>;
    /// Live templates of the account, oldest first, with ids after `after`, of `channel` if given.
    async fn list_templates(
        &self,
        account: AccountId,
        channel: Option<Channel>,
        after: Option<TemplateId>,
        limit: u32,
    ) -> StoreResult<Vec<Template>>;
    /// Soft-deletes a live template; `false` if there is none.
    async fn delete_template(
        &self,
        account: AccountId,
        id: TemplateId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
