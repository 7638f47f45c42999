//! A user's notification preferences: channels on or off, categories opted out of, and
//! quiet hours in the user's time zone.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_domain::{Channel, QuietHours};

/// What `PUT /api/v1/preferences/user/{user_id}` sets. The default (no row) lets
/// everything through at any hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// Channels switched off; every other channel is on.
    pub channels_off: BTreeSet<Channel>,
    /// Template categories the user opted out of (`marketing`).
    pub opted_out_categories: BTreeSet<String>,
    /// Local hours in which only transactional notifications go out.
    pub quiet_hours: Option<QuietHours>,
}

/// Stored preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPreferences {
    pub preferences: Preferences,
    pub updated_at: DateTime<Utc>,
}
