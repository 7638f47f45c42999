//! Intake: accepting a message. A message is accepted only once it is committed; the
//! caller's 2xx (or queue ack) comes after this returns.

use std::sync::Arc;

use chrono::Utc;
use herald_domain::{
    AccountId, Channel, MessageBody, MessageId, MessageStatus, PhoneNumber, SenderId,
};
use tokio::sync::Notify;

use crate::{
    model::NewMessage,
    ports::{Store, StoreResult},
};

/// An SMS, validated and ready to store.
#[derive(Debug, Clone)]
pub struct SmsDraft {
    pub to: PhoneNumber,
    pub from: SenderId,
    pub body: MessageBody,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    pub status: MessageStatus,
}

#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    /// Wakes this process's dispatcher so a new message is sent without waiting for a poll.
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").finish_non_exhaustive()
    }
}

impl Intake {
    pub fn new(store: Arc<dyn Store>, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    #[tracing::instrument(skip_all, fields(to = %draft.to.masked(), body = %draft.body.describe()))]
    pub async fn accept_sms(&self, account: AccountId, draft: SmsDraft) -> StoreResult<Accepted> {
        let message = NewMessage {
            id: MessageId::new(),
            account_id: account,
            channel: Channel::Sms,
            recipient: draft.to.to_string(),
            sender: Some(draft.from.to_string()),
            body: draft.body.into(),
            user_id: draft.user_id,
            created_at: Utc::now(),
        };
        self.store.insert_message(&message).await?;
        self.wake.notify_one();
        tracing::info!(message_id = %message.id, "message accepted");
        Ok(Accepted {
            id: message.id,
            status: MessageStatus::Pending,
        })
    }
}
