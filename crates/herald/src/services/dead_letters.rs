//! Dead letters: messages that ended `failed`, listing them, and sending them again.

use std::sync::Arc;

use chrono::Utc;
use herald_domain::{AccountId, MessageId};
use tokio::sync::Notify;

use crate::{
    model::{DeadLetterFilter, Message},
    ports::{Store, StoreResult},
};

#[derive(Clone)]
pub struct DeadLetters {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters").finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub fn new(store: Arc<dyn Store>, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    /// The account's failed messages matching `filter`, newest first, below `before`.
    pub async fn list(
        &self,
        account: AccountId,
        filter: &DeadLetterFilter,
        before: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.store.list_dead_letters(account, filter, before, limit).await
    }

    /// Gives the chosen failed messages a fresh retry budget and makes them due now.
    pub async fn replay(
        &self,
        account: AccountId,
        ids: Option<&[MessageId]>,
        filter: &DeadLetterFilter,
    ) -> StoreResult<Vec<MessageId>> {
        let replayed = self.store.replay_dead_letters(account, ids, filter, Utc::now()).await?;
        if !replayed.is_empty() {
            tracing::info!(count = replayed.len(), "dead letters replayed");
            self.wake.notify_one();
        }
        Ok(replayed)
    }
}
