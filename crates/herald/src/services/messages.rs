//! Reading messages (one with its timeline, a user's history, a search) and the status
//! changes clients make.

use std::sync::Arc;

use chrono::Utc;
use herald_domain::{AccountId, MessageId, MessageStatus};

use crate::{
    model::{
        FoundMessage, HistoryEntry, HistoryFilter, Message, MessageCursor, MessageEvent, MessageSearch,
        StatusChange, StatusChanged,
    },
    ports::{Store, StoreError, StoreResult},
};

#[derive(Clone)]
pub struct Messages {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl Messages {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The account's message `id` and everything that happened to it, oldest first.
    pub async fn get(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> StoreResult<Option<(Message, Vec<MessageEvent>)>> {
        let Some(message) = self.store.get_message(account, id).await? else {
            return Ok(None);
        };
        let events = self.store.list_message_events(id).await?;
        Ok(Some((message, events)))
    }

    /// A page of the user's history, newest first.
    pub async fn history(
        &self,
        account: AccountId,
        user_id: &herald_domain::UserId,
        filter: &HistoryFilter,
        before: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<HistoryEntry>> {
        self.store.user_history(account, user_id, filter, before, limit).await
    }

    /// A page of the account's messages matching `search`, newest first.
    pub async fn search(
        &self,
        account: AccountId,
        search: &MessageSearch,
        before: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<FoundMessage>> {
        self.store.search_messages(account, search, before, limit).await
    }

    /// Moves the notification to a status the client reports or asks for: `cancelled`
    /// while `pending` or `scheduled`, `delivered` after `sent`, `read` after `sent` or
    /// `delivered`.
    pub async fn set_status(
        &self,
        account: AccountId,
        id: MessageId,
        to: MessageStatus,
        reason: Option<&str>,
    ) -> Result<StatusChanged, StoreError> {
        let from = client_transitions(to);
        let at = Utc::now();
        let detail = match reason {
            Some(reason) => format!("set to {to} by the client: {reason}"),
            None => format!("set to {to} by the client"),
        };
        let change = StatusChange { account, id, to, from, detail, at };
        let event = |message: &Message| super::events::status_changed_by_client(message, reason, at);
        self.store.change_status(&change, &event).await
    }
}

/// The statuses a client may move a notification to, each with the statuses it may start from.
pub const CLIENT_STATUSES: [MessageStatus; 3] =
    [MessageStatus::Cancelled, MessageStatus::Delivered, MessageStatus::Read];

/// What a client's change to `to` may start from (nothing for a status clients do not set).
pub fn client_transitions(to: MessageStatus) -> &'static [MessageStatus] {
    match to {
        MessageStatus::Cancelled => &[MessageStatus::Pending, MessageStatus::Scheduled],
        MessageStatus::Delivered => &[MessageStatus::Sent],
        MessageStatus::Read => &[MessageStatus::Sent, MessageStatus::Delivered],
        _ => &[],
    }
}
