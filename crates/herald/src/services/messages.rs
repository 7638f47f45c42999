//! Reading messages: one message with its timeline.

use std::sync::Arc;

use herald_domain::{AccountId, MessageId};

use crate::{
    model::{Message, MessageEvent},
    ports::{Store, StoreResult},
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
}
