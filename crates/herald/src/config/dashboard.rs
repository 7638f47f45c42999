//! `[dashboard]`: the web dashboard served at `/` and its sign-in sessions.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardConfig {
    /// Serve the dashboard at `/` (the API's session endpoints stay either way).
    pub enabled: bool,
    /// How long a dashboard session lasts after sign-in, in seconds. Revoking the API key
    /// it was made with ends it at once.
    pub session_ttl_secs: u64,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Set it when herald is
    /// reached over HTTPS; a request forwarded with `X-Forwarded-Proto: https` gets a
    /// `Secure` cookie either way.
    pub secure_cookies: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self { enabled: true, session_ttl_secs: 8 * 3_600, secure_cookies: false }
    }
}

impl DashboardConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=30 * 86_400).contains(&self.session_ttl_secs) {
            return invalid("dashboard.session_ttl_secs", "must be between 60 and 2592000 (30 days)");
        }
        Ok(())
    }
}
