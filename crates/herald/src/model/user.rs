//! Users: herald's contact directory, keyed by the caller's own user id.

use chrono::{DateTime, Utc};
use herald_domain::{EmailAddress, Locale, PhoneNumber, PushToken, TimeZone, UserId};

/// Where a user can be reached and how they read; what `PUT /api/v1/users/{id}` sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserProfile {
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub push_tokens: Vec<PushToken>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZone>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: UserId,
    pub profile: UserProfile,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A write to a user, last writer wins: it applies only if its `version` (the time of the
/// change: the API request's, or the identity event's own timestamp) is later than the
/// version the user has, deleted or not.
#[derive(Debug, Clone)]
pub struct UserWrite<'a> {
    pub user_id: &'a UserId,
    /// `None` deletes the user (a tombstone keeps the version, so that an older update
    /// arriving later does not bring them back).
    pub profile: Option<&'a UserProfile>,
    pub version: DateTime<Utc>,
}

/// What a [`UserWrite`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum UserWritten {
    /// The user did not exist (or was deleted) and now does.
    Created(User),
    /// The user existed and now has the written profile.
    Replaced(User),
    /// The user existed and is now deleted.
    Deleted,
    /// A delete of a user that did not exist: only the tombstone was written.
    NothingToDelete,
    /// The write is older than what the user has: nothing changed.
    Stale,
}
