//! Notification templates: validation and the use cases behind `/api/v1/templates`. A
//! template is typed by channel, declares the variables its context gives (required or
//! optional); its subject, body and HTML use them as `{order_id}` or
//! `{order_id|fallback}`, as campaign templates do. A placeholder that is not declared is
//! declared for the template, optional. A change is a new version; a delete is soft.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use herald_domain::{AccountId, Channel, Subject, Template as Parsed, TemplateId};
use moka::future::Cache;

use crate::{
    config::TemplatesConfig,
    model::{Template, TemplateContent, TemplateFound, TemplateVariable, TemplateWrite},
    ports::{Store, StoreError},
};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_VARIABLES: usize = 50;
pub const MAX_VARIABLE_CHARS: usize = 64;
pub const MAX_CATEGORY_CHARS: usize = 64;
/// Longest body source per channel: an SMS or push text, an email's text, an email's HTML.
pub const MAX_TEXT_BODY_CHARS: usize = 4_096;
pub const MAX_EMAIL_BODY_CHARS: usize = 20_000;
pub const MAX_HTML_CHARS: usize = 100_000;

/// A template as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub name: String,
    pub channel: String,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub variables: Vec<TemplateVariable>,
    pub category: Option<String>,
    pub transactional: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("Template {0} not found")]
    NotFound(String),
    #[error("another template of this account is named \"{0}\"")]
    NameTaken(String),
    #[error("'{field}' {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, problem: impl std::fmt::Display) -> TemplateError {
    TemplateError::Invalid { field, problem: problem.to_string() }
}

/// What a category name may be (a template's category, a user's opt-out).
pub const CATEGORY_RULE: &str = "must be 1 to 64 of a-z, 0-9, '_', '-', '.'";

pub fn is_category(category: &str) -> bool {
    (1..=MAX_CATEGORY_CHARS).contains(&category.len())
        && category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
}

/// A variable's name: letters, digits and `_`, not starting with a digit; or two such
/// joined by a dot (`order.id`).
fn is_variable_name(name: &str) -> bool {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        Some((a, b)) => identifier(a) && identifier(b),
        None => identifier(name),
    }
}

impl TemplateInput {
    /// The content these fields describe, every rule checked.
    pub fn parse(self) -> Result<TemplateContent, TemplateError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid("name", format!("must be 1 to {MAX_NAME_CHARS} characters once trimmed")));
        }
        let channel: Channel =
            self.channel.parse().map_err(|_| invalid("type", "must be email, sms, push or whatsapp"))?;
        if self.variables.len() > MAX_VARIABLES {
            return Err(invalid("variables", format!("holds at most {MAX_VARIABLES}")));
        }
        // A name declared twice counts once, required if either says so.
        let mut declared: Vec<TemplateVariable> = Vec::with_capacity(self.variables.len());
        for variable in self.variables {
            if variable.name.len() > MAX_VARIABLE_CHARS || !is_variable_name(&variable.name) {
                return Err(invalid(
                    "variables",
                    format!("'{}' is not a variable name (letters, digits, '_', one '.')", variable.name),
                ));
            }
            match declared.iter_mut().find(|d| d.name == variable.name) {
                Some(first) => first.required |= variable.required,
                None => declared.push(variable),
            }
        }
        let body_max = if channel == Channel::Email { MAX_EMAIL_BODY_CHARS } else { MAX_TEXT_BODY_CHARS };
        let mut used: Vec<String> = Vec::new();
        let mut uses = |parsed: &Parsed| {
            for name in parsed.fields() {
                if !used.iter().any(|u| u == name) {
                    used.push(name.to_owned());
                }
            }
        };
        uses(&Parsed::parse_any(&self.body, body_max).map_err(|e| invalid("body", e))?);
        let subject = match (channel, self.subject) {
            (Channel::Email, None) => return Err(invalid("subject", "is required for an email template")),
            (Channel::Sms | Channel::Whatsapp, Some(_)) => {
                return Err(invalid("subject", "is for email (subject) and push (title) templates only"))
            }
            (_, Some(subject)) => {
                Subject::parse(&subject).map_err(|e| invalid("subject", e))?;
                uses(&Parsed::parse_any(&subject, Subject::MAX_CHARS).map_err(|e| invalid("subject", e))?);
                Some(subject)
            }
            (_, None) => None,
        };
        let html = match (channel, self.html) {
            (Channel::Email, Some(html)) => {
                uses(&Parsed::parse_any(&html, MAX_HTML_CHARS).map_err(|e| invalid("html", e))?);
                Some(html)
            }
            (_, Some(_)) => return Err(invalid("html", "is for email templates only")),
            (_, None) => None,
        };
        // A placeholder the texts use but the template does not declare is declared for it,
        // optional (the answer lists it): rendering never meets an unknown name.
        let mut variables = declared;
        for name in used {
            if !variables.iter().any(|v| v.name == name) {
                variables.push(TemplateVariable { name, required: false });
            }
        }
        let category = match self.category {
            Some(category) if !is_category(&category) => return Err(invalid("category", CATEGORY_RULE)),
            category => category,
        };
        Ok(TemplateContent {
            name,
            channel,
            subject,
            body: self.body,
            html,
            variables,
            category,
            transactional: self.transactional,
        })
    }
}

#[derive(Clone)]
pub struct Templates {
    store: Arc<dyn Store>,
    /// Live templates by (account, the id or name a send used).
    cache: Cache<(AccountId, String), Arc<Template>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

fn parse_id(id: &str) -> Result<TemplateId, TemplateError> {
    id.parse().map_err(|_| TemplateError::NotFound(id.to_owned()))
}

fn written(write: TemplateWrite, id: &str, name: &str) -> Result<Template, TemplateError> {
    match write {
        TemplateWrite::Done(template) => Ok(*template),
        TemplateWrite::NameTaken => Err(TemplateError::NameTaken(name.to_owned())),
        TemplateWrite::NotFound => Err(TemplateError::NotFound(id.to_owned())),
    }
}

/// Why a send's template reference names no template to render.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unresolved {
    #[error("no template {0:?}")]
    Unknown(String),
    #[error("template {0:?} is deleted")]
    Deleted(String),
    #[error(transparent)]
    Store(Arc<StoreError>),
}

impl Templates {
    pub fn new(store: Arc<dyn Store>, config: &TemplatesConfig) -> Self {
        let cache = Cache::builder()
            .max_capacity(config.cache_capacity)
            .time_to_live(Duration::from_secs(config.cache_ttl_secs))
            .support_invalidation_closures()
            .build();
        Self { store, cache }
    }

    /// The live template a send names by id or name, from the cache when it holds it.
    /// Concurrent sends of one template load it once; unknown and deleted templates are
    /// not cached (the next send looks again).
    pub async fn resolve(&self, account: AccountId, reference: &str) -> Result<Arc<Template>, Unresolved> {
        let load = async {
            match self.store.find_template(account, reference).await {
                Ok(TemplateFound::Live(template)) => Ok(Arc::new(*template)),
                Ok(TemplateFound::Deleted) => Err(Unresolved::Deleted(reference.to_owned())),
                Ok(TemplateFound::Unknown) => Err(Unresolved::Unknown(reference.to_owned())),
                Err(error) => Err(Unresolved::Store(Arc::new(error))),
            }
        };
        self.cache.try_get_with((account, reference.to_owned()), load).await.map_err(|e| (*e).clone())
    }

    /// Drops every cached template of the account: a change to one may change what a name
    /// resolves to (a rename, a delete, a new template taking a freed name).
    fn invalidate(&self, account: AccountId) {
        // Only fails when the cache was built without invalidation closures.
        let _ = self.cache.invalidate_entries_if(move |(owner, _), _| *owner == account);
    }

    pub async fn create(&self, account: AccountId, input: TemplateInput) -> Result<Template, TemplateError> {
        let content = input.parse()?;
        let id = TemplateId::new();
        let write = self.store.insert_template(account, id, &content, Utc::now()).await?;
        self.invalidate(account);
        written(write, &id.to_string(), &content.name)
    }

    /// A new version of the template: every field as given.
    pub async fn update(
        &self,
        account: AccountId,
        id: &str,
        input: TemplateInput,
    ) -> Result<Template, TemplateError> {
        let template_id = parse_id(id)?;
        let content = input.parse()?;
        let write = self.store.update_template(account, template_id, &content, Utc::now()).await?;
        self.invalidate(account);
        written(write, id, &content.name)
    }

    pub async fn get(&self, account: AccountId, id: &str) -> Result<Template, TemplateError> {
        let template_id = parse_id(id)?;
        self.store
            .get_template(account, template_id)
            .await?
            .ok_or_else(|| TemplateError::NotFound(id.to_owned()))
    }

    pub async fn list(
        &self,
        account: AccountId,
        channel: Option<Channel>,
        after: Option<TemplateId>,
        limit: u32,
    ) -> Result<Vec<Template>, TemplateError> {
        Ok(self.store.list_templates(account, channel, after, limit).await?)
    }

    pub async fn delete(&self, account: AccountId, id: &str) -> Result<(), TemplateError> {
        let template_id = parse_id(id)?;
        let deleted = self.store.delete_template(account, template_id, Utc::now()).await?;
        self.invalidate(account);
        if deleted {
            Ok(())
        } else {
            Err(TemplateError::NotFound(id.to_owned()))
        }
    }
}
