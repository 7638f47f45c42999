//! Campaigns (the campaign brief): the use cases behind `/campaigns` — create, get, list,
//! preview one customer's message, and start (send) a campaign.

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};
use herald_domain::{
    sms_length, template::TemplateError, AccountId, CampaignId, CampaignStatus, Channel, CustomerId,
    MessageId, SmsLength, Template,
};
use serde_json::Value;
use tokio::sync::Notify;

use super::{
    customers::parse_id,
    idempotency::IdempotentRequest,
    intake::{interpret, Intake, IntakeError, IntakeOutcome},
    json::json_integer,
};
use crate::{
    model::{
        Campaign, CampaignFilter, CampaignPage, CampaignStart, CampaignStats, Customer, IdempotentResponse,
        NewCampaign, PageStart, StartOutcome,
    },
    ports::{Store, StoreError},
};

pub(crate) const MAX_NAME_CHARS: usize = 200;
/// Customers one send may name.
pub const MAX_RECIPIENTS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The id as the client wrote it.
    #[error("Campaign with ID {0} not found")]
    NotFound(String),
    #[error("Customer with ID {0} not found")]
    CustomerNotFound(CustomerId),
    /// An invalid field; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("'{field}': {error}")]
    InvalidTemplate { field: &'static str, error: TemplateError },
    #[error(
        "Campaign {id} is {current}: only a draft or scheduled campaign that was not sent yet can be sent"
    )]
    NotSendable { id: CampaignId, current: CampaignStatus },
    /// Customer ids of a send that are not the account's; nothing was sent.
    #[error("these customer_ids do not exist")]
    UnknownCustomers(Vec<CustomerId>),
    #[error(transparent)]
    Idempotency(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A campaign as given at creation, before validation.
#[derive(Debug, Clone)]
pub struct CampaignDraft {
    pub name: String,
    pub channel: String,
    pub base_template: String,
    pub scheduled_at: Option<String>,
}

/// One customer's message, rendered.
#[derive(Debug, Clone)]
pub struct Preview {
    pub rendered_message: String,
    pub used_template: String,
    pub customer: Customer,
    pub length: SmsLength,
}

/// A started campaign, as its answer shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub campaign_id: CampaignId,
    pub messages_queued: u64,
    pub status: CampaignStatus,
}

/// What became of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Started(Queued),
    /// A repeat of an idempotent send: the first response, to send again as is.
    Replayed {
        status: u16,
        body: String,
    },
}

/// Builds the response an idempotent send stores (and later replays).
pub type RespondQueued<'a> = &'a (dyn Fn(&Queued) -> (u16, String) + Sync);

/// The channels a campaign may use.
pub fn parse_channel(text: &str) -> Result<Channel, String> {
    match text.parse() {
        Ok(channel @ (Channel::Sms | Channel::Whatsapp)) => Ok(channel),
        _ => Err(format!("channel '{text}' is not supported: use 'sms' or 'whatsapp'")),
    }
}

fn parse_template(source: &str, field: &'static str) -> Result<Template, CampaignError> {
    Template::parse(source).map_err(|error| CampaignError::InvalidTemplate { field, error })
}

#[derive(Clone)]
pub struct Campaigns {
    store: Arc<dyn Store>,
    /// Holds and claims a send's idempotency key, as for any other keyed request.
    intake: Intake,
    default_sender: String,
    /// Wakes this process's dispatcher when a start created messages.
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Campaigns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Campaigns").finish_non_exhaustive()
    }
}

impl Campaigns {
    pub fn new(store: Arc<dyn Store>, intake: Intake, default_sender: String, wake: Arc<Notify>) -> Self {
        Self { store, intake, default_sender, wake }
    }

    /// Creates a campaign: `scheduled` if `scheduled_at` is in the future, else a `draft`.
    pub async fn create(&self, account: AccountId, draft: CampaignDraft) -> Result<Campaign, CampaignError> {
        let name = draft.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(CampaignError::Invalid(format!("'name' must be 1 to {MAX_NAME_CHARS} characters")));
        }
        let channel = parse_channel(&draft.channel).map_err(CampaignError::Invalid)?;
        parse_template(&draft.base_template, "base_template")?;
        let now = Utc::now();
        let scheduled_at = match draft.scheduled_at.as_deref() {
            None => None,
            Some(text) => {
                let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
                    CampaignError::Invalid(format!(
                        "'scheduled_at' must be an RFC 3339 time with a time zone, e.g. 2030-06-01T10:00:00Z (got {text:?})"
                    ))
                })?;
                Some(at.with_timezone(&Utc))
            }
        };
        // A time that has passed schedules nothing: the campaign is ready to send now, and the
        // scheduler (which starts `scheduled` campaigns only) leaves it to an explicit send.
        let status = match scheduled_at {
            Some(at) if at > now => CampaignStatus::Scheduled,
            _ => CampaignStatus::Draft,
        };
        let campaign = NewCampaign {
            account_id: account,
            name: name.to_owned(),
            channel,
            status,
            base_template: draft.base_template,
            scheduled_at,
            created_at: now,
        };
        Ok(self.store.insert_campaign(&campaign).await?)
    }

    /// The account's campaign `id` (as the client wrote it).
    pub async fn get(&self, account: AccountId, id: &str) -> Result<Campaign, CampaignError> {
        let campaign_id = parse_id(id).ok_or_else(|| CampaignError::NotFound(id.to_owned()))?;
        self.store
            .get_campaign(account, campaign_id)
            .await?
            .ok_or_else(|| CampaignError::NotFound(id.to_owned()))
    }

    /// A campaign with the counts of its messages by status.
    pub async fn get_with_stats(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<(Campaign, CampaignStats), CampaignError> {
        let campaign = self.get(account, id).await?;
        let stats = self.store.campaign_stats(campaign.id).await?;
        Ok((campaign, stats))
    }

    /// A page of campaigns, newest first, of the listing's snapshot: page `page` of
    /// `page_size`, or the page just below campaign `before`.
    pub async fn list(
        &self,
        account: AccountId,
        filter: CampaignFilter,
        snapshot: Option<CampaignId>,
        before: Option<CampaignId>,
        page: u64,
        page_size: u32,
    ) -> Result<CampaignPage, CampaignError> {
        let start = match before {
            Some(id) => PageStart::Below(id),
            None => PageStart::Offset((page - 1) * u64::from(page_size)),
        };
        Ok(self.store.list_campaigns(account, filter, snapshot, start, page_size).await?)
    }

    /// Renders the campaign's template (or `override_template`) for one customer.
    /// `customer_id` is the request's, as JSON: a positive integer.
    pub async fn preview(
        &self,
        account: AccountId,
        id: &str,
        customer_id: &Value,
        override_template: Option<&str>,
    ) -> Result<Preview, CampaignError> {
        let campaign = self.get(account, id).await?;
        let customer_id = json_integer(customer_id)
            .filter(|id| *id > 0)
            .map(CustomerId::new)
            .ok_or_else(|| CampaignError::Invalid("'customer_id' must be a positive integer".into()))?;
        let template = match override_template {
            Some(template) => parse_template(template, "override_template")?,
            None => parse_template(&campaign.base_template, "base_template")?,
        };
        let customer = self
            .store
            .get_customer(account, customer_id)
            .await?
            .ok_or(CampaignError::CustomerNotFound(customer_id))?;
        let values = customer.template_values();
        let rendered_message = template.render(|name| values.get(name).map(String::as_str));
        Ok(Preview {
            length: sms_length(&rendered_message),
            rendered_message,
            used_template: template.as_str().to_owned(),
            customer,
        })
    }

    /// Starts a campaign: one message per distinct customer, created in one transaction
    /// (the worker renders and sends them). A campaign with a future `scheduled_at` stays
    /// `scheduled` and its messages wait until then. With `idempotent`, a repeat of the
    /// same request gets the first response again, never a second start.
    pub async fn send(
        &self,
        account: AccountId,
        id: &str,
        audience: Audience<'_>,
        idempotent: Option<&IdempotentRequest>,
        respond: RespondQueued<'_>,
    ) -> Result<SendOutcome, CampaignError> {
        let recipients = match audience {
            Audience::Customers(ids) => distinct_recipients(ids)?,
            Audience::Everyone => {
                let everyone = self.store.customer_ids(account).await?;
                if everyone.is_empty() {
                    return Err(CampaignError::Invalid(
                        "'all_customers': the account has no customers to send to".into(),
                    ));
                }
                everyone.into_iter().map(|customer| (customer, MessageId::new())).collect()
            }
        };
        let campaign = self.get(account, id).await?;
        let campaign_id = campaign.id;
        let now = Utc::now();
        let (status, due_at) = match campaign.scheduled_at {
            Some(at) if at > now => (CampaignStatus::Scheduled, at),
            _ => (CampaignStatus::Sending, now),
        };
        let queued = Queued { campaign_id, messages_queued: recipients.len() as u64, status };
        // Held while the start runs; claimed and completed in the start's transaction, so a
        // start that fails or dies leaves the key free for the retry.
        let _hold = idempotent.map(|request| self.intake.hold_key(account, request)).transpose()?;
        let start = CampaignStart {
            account_id: account,
            campaign_id,
            recipients,
            sender: self.default_sender.clone(),
            status,
            due_at,
            now,
            idempotency: idempotent.map(|request| {
                let (status, body) = respond(&queued);
                IdempotentResponse { key: request.key.as_str().to_owned(), status, body }
            }),
            claim: idempotent.map(|request| self.intake.key_claim(request, now)),
        };
        match self.store.start_campaign(&start).await? {
            StartOutcome::KeyTaken(claim) => {
                let unexpected = || StoreError::Corrupt("a taken idempotency key came back free".into());
                let request = idempotent.ok_or_else(unexpected)?;
                match interpret(claim, request)? {
                    Some(IntakeOutcome::Replayed { status, body }) => {
                        Ok(SendOutcome::Replayed { status, body })
                    }
                    _ => Err(unexpected().into()),
                }
            }
            StartOutcome::Started => {
                self.wake.notify_one();
                Ok(SendOutcome::Started(queued))
            }
            StartOutcome::NotFound => Err(CampaignError::NotFound(id.to_owned())),
            StartOutcome::NotSendable(current) => {
                Err(CampaignError::NotSendable { id: campaign_id, current })
            }
            StartOutcome::UnknownCustomers(unknown) => Err(CampaignError::UnknownCustomers(unknown)),
        }
    }
}

/// Whom a send goes to.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// These customer ids, as the request gave them (1 to [`MAX_RECIPIENTS`]).
    Customers(&'a [Value]),
    /// Every customer of the account at the time of the send.
    Everyone,
}

/// The distinct customer ids of a send, in request order, each with a new message id.
fn distinct_recipients(ids: &[Value]) -> Result<Vec<(CustomerId, MessageId)>, CampaignError> {
    if ids.is_empty() || ids.len() > MAX_RECIPIENTS {
        return Err(CampaignError::Invalid(format!(
            "'customer_ids' must hold 1 to {MAX_RECIPIENTS} customer ids"
        )));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    let mut recipients = Vec::with_capacity(ids.len());
    for (index, value) in ids.iter().enumerate() {
        let customer = json_integer(value).filter(|id| *id > 0).ok_or_else(|| {
            CampaignError::Invalid(format!(
                "'customer_ids[{index}]' must be a positive integer (got {value})"
            ))
        })?;
        if seen.insert(customer) {
            recipients.push((CustomerId::new(customer), MessageId::new()));
        }
    }
    Ok(recipients)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_send_names_each_customer_once_in_request_order() {
        let recipients = distinct_recipients(&[json!(3), json!(1.0), json!(3), json!(2)]).unwrap();
        let ids: Vec<i64> = recipients.iter().map(|(id, _)| id.get()).collect();
        assert_eq!(ids, [3, 1, 2]);
        let messages: HashSet<MessageId> = recipients.iter().map(|(_, m)| *m).collect();
        assert_eq!(messages.len(), 3, "each recipient gets its own message id");
    }

    #[test]
    fn a_send_without_customers_or_with_a_bad_id_is_invalid() {
        assert!(matches!(distinct_recipients(&[]), Err(CampaignError::Invalid(_))));
        let error = distinct_recipients(&[json!(1), json!(0)]).unwrap_err();
        assert_eq!(error.to_string(), "'customer_ids[1]' must be a positive integer (got 0)");
        assert!(matches!(distinct_recipients(&[json!("1")]), Err(CampaignError::Invalid(_))));
    }

    #[test]
    fn campaigns_go_out_by_sms_or_whatsapp_only() {
        assert_eq!(parse_channel("sms"), Ok(Channel::Sms));
        assert_eq!(parse_channel("whatsapp"), Ok(Channel::Whatsapp));
        assert!(parse_channel("email").is_err());
    }
}
