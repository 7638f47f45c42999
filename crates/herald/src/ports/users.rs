//! Users: herald's contact directory.

use async_trait::async_trait;
use herald_domain::{AccountId, UserId};

use super::StoreResult;
use crate::model::{User, UserWrite, UserWritten};

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates, replaces or deletes a user of `account` in one statement, last writer wins:
    /// a write no later than the user's version changes nothing ([`UserWritten::Stale`]).
    async fn write_user(&self, account: AccountId, write: &UserWrite<'_>) -> StoreResult<UserWritten>;
    /// The user, unless unknown or deleted.
    async fn get_user(&self, account: AccountId, id: &UserId) -> StoreResult<Option<User>>;
}
