//! Users: herald's contact directory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, UserId};

use super::StoreResult;
use crate::model::{Preferences, StoredPreferences, User, UserWrite, UserWritten};

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates, replaces or deletes a user of `account` in one statement, last writer wins:
    /// a write no later than the user's version changes nothing ([`UserWritten::Stale`]).
    async fn write_user(&self, account: AccountId, write: &UserWrite<'_>) -> StoreResult<UserWritten>;
    /// The user, unless unknown or deleted.
    async fn get_user(&self, account: AccountId, id: &UserId) -> StoreResult<Option<User>>;
    /// The user's preferences, if any were ever set (users and preferences are independent:
    /// either may exist without the other).
    async fn get_preferences(
        &self,
        account: AccountId,
        id: &UserId,
    ) -> StoreResult<Option<StoredPreferences>>;
    /// Replaces the user's preferences.
    async fn put_preferences(
        &self,
        account: AccountId,
        id: &UserId,
        preferences: &Preferences,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredPreferences>;
}
