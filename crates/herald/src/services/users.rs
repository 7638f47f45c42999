//! Users: herald's contact directory, keyed by the caller's own user id (the monolith keeps
//! owning identity). `PUT /api/v1/users/{user_id}` creates or replaces a user, last writer
//! wins by the time of the change, so that the API and identity events can both write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_domain::{
    quiet_hours::parse_clock, AccountId, Channel, EmailAddress, Locale, PhoneNumber, PushToken, QuietHours,
    TimeZone, UserId,
};

use crate::{
    model::{Preferences, StoredPreferences, User, UserProfile, UserWrite, UserWritten},
    ports::{Store, StoreError},
};

/// Push tokens one user may have (one per device).
pub const MAX_PUSH_TOKENS: usize = 20;

/// A user as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub push_tokens: Option<Vec<String>>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The id as the client wrote it.
    #[error("User {0} not found")]
    NotFound(String),
    /// A field that does not parse: its name and what is wrong.
    #[error("'{field}' {problem}")]
    Invalid { field: &'static str, problem: String },
    /// A change stamped later than this one is stored already.
    #[error("user {0} has a later change (at {1}); this one is older and was not applied")]
    Outdated(UserId, DateTime<Utc>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a `put` created the user or replaced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Replaced,
}

fn invalid(field: &'static str) -> impl Fn(&dyn std::fmt::Display) -> UserError {
    move |problem| UserError::Invalid { field, problem: problem.to_string() }
}

impl UserInput {
    /// The profile these fields describe. A field left out (or null) is cleared; a blank
    /// one is refused like any other invalid value.
    pub fn parse(self) -> Result<UserProfile, UserError> {
        let email = self.email.map(|e| EmailAddress::parse(&e)).transpose();
        let phone = self.phone.map(|p| PhoneNumber::parse(&p)).transpose();
        let locale = self.locale.map(|l| Locale::parse(&l)).transpose();
        let time_zone = self.time_zone.map(|z| TimeZone::parse(&z)).transpose();
        let tokens = self.push_tokens.unwrap_or_default();
        if tokens.len() > MAX_PUSH_TOKENS {
            return Err(UserError::Invalid {
                field: "push_tokens",
                problem: format!("holds at most {MAX_PUSH_TOKENS} tokens"),
            });
        }
        let mut push_tokens: Vec<PushToken> = Vec::with_capacity(tokens.len());
        for token in tokens {
            let token = PushToken::parse(&token).map_err(|e| invalid("push_tokens")(&e))?;
            if !push_tokens.contains(&token) {
                push_tokens.push(token);
            }
        }
        Ok(UserProfile {
            email: email.map_err(|e| invalid("email")(&e))?,
            phone: phone.map_err(|e| invalid("phone")(&e))?,
            push_tokens,
            locale: locale.map_err(|e| invalid("locale")(&e))?,
            time_zone: time_zone.map_err(|e| invalid("time_zone")(&e))?,
        })
    }
}

#[derive(Clone)]
pub struct Users {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates or replaces the user `id` of `account` with `input`, as of now.
    pub async fn put(
        &self,
        account: AccountId,
        id: &str,
        input: UserInput,
    ) -> Result<(User, Put), UserError> {
        let user_id = UserId::parse(id).map_err(|e| invalid("user_id")(&e))?;
        let profile = input.parse()?;
        let write = UserWrite { user_id: &user_id, profile: Some(&profile), version: Utc::now() };
        match self.store.write_user(account, &write).await? {
            UserWritten::Created(user) => Ok((user, Put::Created)),
            UserWritten::Replaced(user) => Ok((user, Put::Replaced)),
            _ => Err(UserError::Outdated(user_id.clone(), write.version)),
        }
    }

    pub async fn get(&self, account: AccountId, id: &str) -> Result<User, UserError> {
        let not_found = || UserError::NotFound(id.to_owned());
        let user_id = UserId::parse(id).map_err(|_| not_found())?;
        self.store.get_user(account, &user_id).await?.ok_or_else(not_found)
    }

    /// Deletes the user; a user that does not exist (or no longer) is `NotFound`.
    pub async fn delete(&self, account: AccountId, id: &str) -> Result<(), UserError> {
        let not_found = || UserError::NotFound(id.to_owned());
        let user_id = UserId::parse(id).map_err(|_| not_found())?;
        let write = UserWrite { user_id: &user_id, profile: None, version: Utc::now() };
        match self.store.write_user(account, &write).await? {
            UserWritten::Deleted => Ok(()),
            UserWritten::Stale => Err(UserError::Outdated(user_id.clone(), write.version)),
            _ => Err(not_found()),
        }
    }

    /// The user's preferences (the defaults when none were set), with when they were set.
    pub async fn preferences(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<(Preferences, Option<DateTime<Utc>>), UserError> {
        let user_id = UserId::parse(id).map_err(|_| UserError::NotFound(id.to_owned()))?;
        Ok(match self.store.get_preferences(account, &user_id).await? {
            Some(stored) => (stored.preferences, Some(stored.updated_at)),
            None => (Preferences::default(), None),
        })
    }

    /// Replaces the user's preferences. The user need not be in the directory: preferences
    /// may arrive before the user does.
    pub async fn put_preferences(
        &self,
        account: AccountId,
        id: &str,
        input: PreferencesInput,
    ) -> Result<StoredPreferences, UserError> {
        let user_id = UserId::parse(id).map_err(|e| invalid("user_id")(&e))?;
        let preferences = input.parse()?;
        // Milliseconds: what both backends keep, so the answer equals what is read back.
        let at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
        Ok(self.store.put_preferences(account, &user_id, &preferences, at).await?)
    }
}

/// Most categories a user may opt out of.
pub const MAX_OPTED_OUT_CATEGORIES: usize = 50;

/// Preferences as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct PreferencesInput {
    /// Channel to on/off; a channel not named is on.
    pub channels: Vec<(Channel, bool)>,
    pub opted_out_categories: Vec<String>,
    /// Local `HH:MM` start and end.
    pub quiet_hours: Option<(String, String)>,
}

impl PreferencesInput {
    pub fn parse(self) -> Result<Preferences, UserError> {
        let channels_off = self.channels.iter().filter(|(_, on)| !on).map(|(channel, _)| *channel).collect();
        if self.opted_out_categories.len() > MAX_OPTED_OUT_CATEGORIES {
            return Err(UserError::Invalid {
                field: "opted_out_categories",
                problem: format!("may name at most {MAX_OPTED_OUT_CATEGORIES} categories"),
            });
        }
        for category in &self.opted_out_categories {
            if !super::templates::is_category(category) {
                return Err(UserError::Invalid {
                    field: "opted_out_categories",
                    problem: format!("{category:?}: {}", super::templates::CATEGORY_RULE),
                });
            }
        }
        let quiet_hours = match self.quiet_hours {
            Some((start, end)) => {
                let start = parse_clock(&start).map_err(|e| invalid("quiet_hours.start")(&e))?;
                let end = parse_clock(&end).map_err(|e| invalid("quiet_hours.end")(&e))?;
                Some(QuietHours::new(start, end))
            }
            None => None,
        };
        Ok(Preferences {
            channels_off,
            opted_out_categories: self.opted_out_categories.into_iter().collect(),
            quiet_hours,
        })
    }
}
