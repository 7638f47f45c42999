//! `[http]` and `[sms]`: the HTTP server's limits and the SMS defaults.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes; larger bodies get a 413.
    pub body_limit_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { body_limit_bytes: 2 * 1024 * 1024 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsConfig {
    /// Sender used when a request names none (`/api/v1/notifications/send`).
    pub default_sender: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self { default_sender: "herald".into() }
    }
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.body_limit_bytes < 1024 {
            return invalid("http.body_limit_bytes", "must be at least 1024");
        }
        Ok(())
    }
}

impl SmsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if herald_domain::SenderId::parse(&self.default_sender).is_err() {
            return invalid(
                "sms.default_sender",
                "must be a phone number or an alphanumeric name of at most 11 characters",
            );
        }
        Ok(())
    }
}
