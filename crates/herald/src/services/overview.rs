//! The dashboard's overview: what an account's messages did lately, the dispatch queue, and
//! the providers' circuit breakers as this process sees them.
//!
//! Counts come from the database, so they are the same whichever process answers and
//! include every worker's sends. Breakers live in the memory of the process whose workers
//! call the providers: only a process that runs workers (`herald serve`) can tell them.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use herald_domain::{breaker::BreakerState, AccountId, Channel};

use crate::{
    model::{Activity, QueueStats},
    ports::{Store, StoreResult},
};

/// One provider's circuit breaker, for one channel it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderState {
    pub name: String,
    pub channel: Channel,
    pub breaker: BreakerState,
}

/// The breakers of the providers this process's workers call. The dispatcher supplies it,
/// so this service never sees the dispatcher itself.
pub trait BreakerStates: Send + Sync {
    /// Every provider, once per channel it serves, in configuration order.
    fn provider_states(&self) -> Vec<ProviderState>;
}

/// What the overview shows, read at `generated_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub generated_at: DateTime<Utc>,
    pub window: Duration,
    /// The account's messages over the window, and its dead letters now.
    pub activity: Activity,
    /// The queue the workers drain, shared by every account (as `herald_queue_depth`).
    pub queue: QueueStats,
    /// `None` when this process runs no workers and so cannot know.
    pub providers: Option<Vec<ProviderState>>,
}

#[derive(Clone)]
pub struct Overview {
    store: Arc<dyn Store>,
    breakers: Option<Arc<dyn BreakerStates>>,
}

impl std::fmt::Debug for Overview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overview").field("providers_known", &self.breakers.is_some()).finish_non_exhaustive()
    }
}

impl Overview {
    /// `breakers`: the dispatcher's, in a process that runs workers; `None` otherwise.
    pub fn new(store: Arc<dyn Store>, breakers: Option<Arc<dyn BreakerStates>>) -> Self {
        Self { store, breakers }
    }

    /// The account's overview over the last `window`.
    pub async fn snapshot(&self, account: AccountId, window: Duration) -> StoreResult<Snapshot> {
        // Microseconds, as the database's times are.
        let generated_at = Utc::now().trunc_subsecs(6);
        let since = generated_at - window;
        let activity = self.store.activity(account, since).await?;
        let queue = self.store.queue_stats(generated_at).await?;
        let providers = self.breakers.as_ref().map(|breakers| breakers.provider_states());
        Ok(Snapshot { generated_at, window, activity, queue, providers })
    }
}
