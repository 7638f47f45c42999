//! Intake: accepting a message. A message is accepted only once it is committed; the
//! caller's 2xx (or queue ack) comes after this returns. Intake takes any channel: the
//! channel and recipient come with the [`Draft`].

use std::{borrow::Cow, sync::Arc};

use chrono::{Duration, Utc};
use herald_domain::{
    smart_encode, AccountId, Channel, MessageBody, MessageId, MessageStatus, PhoneNumber, Recipient, SenderId,
};
use tokio::sync::Notify;

use super::idempotency::{HeldKeys, IdempotentRequest, KeyHold};
use crate::{
    config::{IdempotencyConfig, Routing},
    metrics::Metrics,
    model::{
        ClientTags, Hold, IdempotencyClaim, IdempotentResponse, KeyClaim, KeyedMessage, NewMessage,
        RichContent, TemplateUse,
    },
    ports::{Store, StoreError},
};

/// An SMS, validated and ready to store.
#[derive(Debug, Clone)]
pub struct SmsDraft {
    pub to: PhoneNumber,
    /// `None`: the route's sender, else `sms.default_sender`.
    pub from: Option<SenderId>,
    pub body: MessageBody,
    pub user_id: Option<String>,
    /// The client's reference and metadata (the idempotency key is filled in here).
    pub tags: ClientTags,
}

/// A message on any channel, validated and ready to store.
#[derive(Debug, Clone)]
pub struct Draft {
    pub channel: Channel,
    /// Fits `channel` (a phone number for SMS and WhatsApp).
    pub to: Recipient,
    /// Validated for `channel`: a sender id for SMS, a mailbox for email; `None` leaves
    /// the choice to the provider.
    pub from: Option<String>,
    pub body: MessageBody,
    /// Subject, HTML and data of an email or push notification (validated).
    pub content: RichContent,
    pub user_id: Option<String>,
    pub tags: ClientTags,
    /// The template version it was rendered from.
    pub template: Option<TemplateUse>,
    /// Held back until a time, or suppressed, instead of sent now.
    pub hold: Option<Hold>,
}

impl From<SmsDraft> for Draft {
    fn from(sms: SmsDraft) -> Self {
        Self {
            channel: Channel::Sms,
            to: sms.to.into(),
            from: sms.from.map(|from| from.to_string()),
            body: sms.body,
            content: RichContent::default(),
            user_id: sms.user_id,
            tags: sms.tags,
            template: None,
            hold: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    pub status: MessageStatus,
}

/// What became of a request to accept a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    Accepted(Accepted),
    /// A repeat of an idempotent request: the first response, to send again as is.
    Replayed {
        status: u16,
        body: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this Idempotency-Key was used with a different request")]
    KeyReusedWithOtherRequest,
    #[error("a request with this Idempotency-Key is still being processed")]
    KeyInFlight,
}

/// Builds the response an idempotent request stores (and later replays) for its message.
pub type Respond<'a> = &'a (dyn Fn(&Accepted) -> (u16, String) + Sync);

#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    idempotency: IdempotencyConfig,
    metrics: Arc<Metrics>,
    /// Wakes this process's dispatcher so a new message is sent without waiting for a poll.
    wake: Arc<Notify>,
    held: HeldKeys,
    /// The routes, for what a route does to a message (sender, smart encoding).
    routing: Arc<Routing>,
    /// The sender of an SMS whose request and route name none (`sms.default_sender`).
    default_sender: String,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

impl Intake {
    pub fn new(
        store: Arc<dyn Store>,
        idempotency: IdempotencyConfig,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        routing: Arc<Routing>,
        default_sender: String,
    ) -> Self {
        Self { store, idempotency, metrics, wake, held: HeldKeys::default(), routing, default_sender }
    }

    /// The draft as its route sends it. An SMS or WhatsApp message without a sender gets
    /// the route's, else `sms.default_sender`; its text is smart-encoded where the route
    /// says so (and kept as it is when that would make it invalid, e.g. too long).
    fn routed(&self, mut draft: Draft) -> Draft {
        if !matches!(draft.channel, Channel::Sms | Channel::Whatsapp) {
            return draft;
        }
        let route = self.routing.route_for(draft.channel, draft.to.as_str());
        if draft.from.is_none() {
            let sender = route.and_then(|route| route.sender.clone());
            draft.from = Some(sender.unwrap_or_else(|| self.default_sender.clone()));
        }
        if route.is_some_and(|route| route.smart_encoding) {
            if let Cow::Owned(text) = smart_encode(draft.body.as_str()) {
                draft.body = MessageBody::parse_for(draft.channel, &text).unwrap_or(draft.body);
            }
        }
        draft
    }

    /// Accepts an SMS: [`Intake::accept`] on the SMS channel.
    pub async fn accept_sms(
        &self,
        account: AccountId,
        draft: SmsDraft,
        idempotent: Option<(&IdempotentRequest, Respond<'_>)>,
    ) -> Result<IntakeOutcome, IntakeError> {
        self.accept(account, draft.into(), idempotent).await
    }

    #[tracing::instrument(skip_all, fields(channel = %draft.channel, to = %draft.to.masked(), body = %draft.body.describe()))]
    pub async fn accept(
        &self,
        account: AccountId,
        draft: Draft,
        idempotent: Option<(&IdempotentRequest, Respond<'_>)>,
    ) -> Result<IntakeOutcome, IntakeError> {
        let now = Utc::now();
        let draft = self.routed(draft);
        let accepted = Accepted { id: MessageId::new(), status: initial_status(&draft) };
        let Some((request, respond)) = idempotent else {
            let message = new_message(account, accepted, draft, None, now);
            self.store.insert_message(&message).await?;
            self.accepted(&message);
            return Ok(IntakeOutcome::Accepted(accepted));
        };
        let _hold = self.hold_key(account, request)?;
        let (status, body) = respond(&accepted);
        let response = IdempotentResponse { key: request.key.as_str().to_owned(), status, body };
        let message = new_message(account, accepted, draft, Some(response), now);
        // The key is claimed, the message stored and the key completed in one transaction.
        let keyed = [KeyedMessage { message, claim: Some(self.key_claim(request, now)) }];
        let claim =
            self.store.insert_messages(&keyed).await?.pop().ok_or_else(|| {
                StoreError::Corrupt("a one-message batch came back without its result".into())
            })?;
        if let Some(replay) = interpret(claim, request)? {
            return Ok(replay);
        }
        self.accepted(&keyed[0].message);
        Ok(IntakeOutcome::Accepted(accepted))
    }

    fn accepted(&self, message: &NewMessage) {
        self.wake.notify_one();
        self.metrics.message_accepted(message.channel.as_str());
        tracing::info!(message_id = %message.id, "message accepted");
    }

    /// Holds the request's key in this process while it runs: a repeat meanwhile is
    /// refused with [`IntakeError::KeyInFlight`]. Other keyed operations (a campaign send)
    /// hold it too, and claim it in their own transaction with [`Intake::key_claim`].
    pub fn hold_key(&self, account: AccountId, request: &IdempotentRequest) -> Result<KeyHold, IntakeError> {
        self.held.hold(account, &request.key).ok_or(IntakeError::KeyInFlight)
    }

    /// The claim a keyed operation makes in its transaction: the key is taken if it is
    /// new, expired, or left `in_flight` (by an earlier herald, which stored claims
    /// outside the request's transaction) longer than `in_flight_timeout_secs`.
    pub fn key_claim(&self, request: &IdempotentRequest, now: chrono::DateTime<Utc>) -> KeyClaim {
        KeyClaim {
            fingerprint: request.fingerprint,
            now,
            stale_before: now - Duration::seconds(self.idempotency.in_flight_timeout_secs as i64),
            expires_at: now + Duration::hours(self.idempotency.retention_hours as i64),
        }
    }

    /// Accepts a batch of SMS in one transaction (the command inlet's way: one commit for
    /// many commands). Each item's result is what [`Intake::accept_sms`] would have given;
    /// an `Err` means the whole batch was not stored.
    pub async fn accept_sms_batch(
        &self,
        account: AccountId,
        items: Vec<(SmsDraft, Option<&IdempotentRequest>)>,
        respond: Respond<'_>,
    ) -> Result<Vec<Result<IntakeOutcome, IntakeError>>, StoreError> {
        let items = items.into_iter().map(|(draft, request)| (Draft::from(draft), request)).collect();
        self.accept_batch(account, items, respond).await
    }

    /// [`Intake::accept_sms_batch`] for messages on any channel.
    pub async fn accept_batch(
        &self,
        account: AccountId,
        items: Vec<(Draft, Option<&IdempotentRequest>)>,
        respond: Respond<'_>,
    ) -> Result<Vec<Result<IntakeOutcome, IntakeError>>, StoreError> {
        let now = Utc::now();
        let mut accepted = Vec::with_capacity(items.len());
        let mut batch = Vec::with_capacity(items.len());
        for (draft, request) in &items {
            let this = Accepted { id: MessageId::new(), status: initial_status(draft) };
            let idempotency = request.map(|request| {
                let (status, body) = respond(&this);
                IdempotentResponse { key: request.key.as_str().to_owned(), status, body }
            });
            let claim = request.map(|request| self.key_claim(request, now));
            batch.push(KeyedMessage {
                message: new_message(account, this, self.routed(draft.clone()), idempotency, now),
                claim,
            });
            accepted.push(this);
        }
        let claims = self.store.insert_messages(&batch).await?;
        let mut results = Vec::with_capacity(items.len());
        for (((draft, request), claim), this) in items.iter().zip(claims).zip(accepted) {
            let result = match request {
                Some(request) => {
                    interpret(claim, request).map(|replay| replay.unwrap_or(IntakeOutcome::Accepted(this)))
                }
                None => Ok(IntakeOutcome::Accepted(this)),
            };
            if matches!(result, Ok(IntakeOutcome::Accepted(_))) {
                self.metrics.message_accepted(draft.channel.as_str());
            }
            results.push(result);
        }
        self.wake.notify_one();
        Ok(results)
    }
}

/// What a key's state means for a request: go ahead (`None`), replay, or refuse.
pub fn interpret(
    claim: IdempotencyClaim,
    request: &IdempotentRequest,
) -> Result<Option<IntakeOutcome>, IntakeError> {
    match claim {
        IdempotencyClaim::Acquired => Ok(None),
        IdempotencyClaim::Completed { fingerprint, status, body } if fingerprint == request.fingerprint => {
            tracing::info!("idempotent repeat: replaying the first response");
            Ok(Some(IntakeOutcome::Replayed { status, body }))
        }
        IdempotencyClaim::InFlight { fingerprint } if fingerprint == request.fingerprint => {
            Err(IntakeError::KeyInFlight)
        }
        IdempotencyClaim::Completed { .. } | IdempotencyClaim::InFlight { .. } => {
            Err(IntakeError::KeyReusedWithOtherRequest)
        }
    }
}

/// What a message is once stored: `pending`, or what its hold makes it.
fn initial_status(draft: &Draft) -> MessageStatus {
    draft.hold.as_ref().map_or(MessageStatus::Pending, Hold::status)
}

fn new_message(
    account: AccountId,
    accepted: Accepted,
    draft: Draft,
    idempotency: Option<IdempotentResponse>,
    now: chrono::DateTime<Utc>,
) -> NewMessage {
    let mut message = NewMessage {
        id: accepted.id,
        account_id: account,
        channel: draft.channel,
        recipient: draft.to,
        sender: draft.from,
        body: draft.body.into(),
        content: draft.content,
        user_id: draft.user_id,
        tags: ClientTags {
            idempotency_key: idempotency.as_ref().map(|response| response.key.clone()),
            ..draft.tags
        },
        created_at: now,
        idempotency,
        template: draft.template,
        hold: draft.hold,
        events: Vec::new(),
    };
    if let Some(Hold::Suppressed { reason }) = &message.hold {
        message.events.push(super::events::notification_suppressed(&message, reason));
    }
    message
}
