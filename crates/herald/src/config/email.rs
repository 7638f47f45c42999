//! `[email]`: the email channel's defaults, used when a request names none.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct EmailConfig {
    /// Sender of an email whose request names none (e.g. `Shop <receipts@shop.example>`);
    /// unset: the SMTP provider's own `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Reply-To of an email whose request names none; unset: no Reply-To.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// Whether `input` is a mailbox: an address, optionally with a display name
/// (`Ada <ada@example.com>`), as a From or Reply-To header takes it.
pub fn is_mailbox(input: &str) -> bool {
    input.parse::<lettre::message::Mailbox>().is_ok()
}

impl EmailConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [("email.from", &self.from), ("email.reply_to", &self.reply_to)] {
            if value.as_deref().is_some_and(|v| !is_mailbox(v)) {
                return invalid(key, "must be an email address, e.g. \"Shop <receipts@shop.example>\"");
            }
        }
        Ok(())
    }
}
