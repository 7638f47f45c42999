//! `[providers.smtp]`: an SMTP relay for the email channel (a `[[providers]]` entry with
//! `kind = "smtp"`).

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Secret};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test server.
    None,
    /// Plain connection upgraded with STARTTLS before anything is sent (port 587); a relay
    /// that does not offer it is an error, never a silent downgrade.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct SmtpProviderConfig {
    pub host: String,
    /// Default: 25 without TLS, 587 with STARTTLS, 465 with TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub tls: SmtpTls,
    /// AUTH user; AUTH is used only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender address when the message names none (e.g. `Herald <noreply@example.com>`).
    pub from: String,
    /// Connections kept open to the relay; unset: the provider's `max_concurrency`, at most 16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    /// A PEM file of CA certificates to trust besides the public roots (a relay with a
    /// certificate from a private CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
}

impl SmtpProviderConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return invalid("providers.smtp.host", "must name the SMTP relay");
        }
        if !super::is_mailbox(&self.from) {
            return invalid(
                "providers.smtp.from",
                "must be an email address, e.g. \"Herald <noreply@example.com>\"",
            );
        }
        if self.username.is_some() != self.password.is_some() {
            return invalid("providers.smtp.password", "username and password go together");
        }
        if self.ca_file.is_some() && self.tls == SmtpTls::None {
            return invalid("providers.smtp.ca_file", "needs tls = \"starttls\" or \"tls\"");
        }
        if self.pool_size == Some(0) {
            return invalid("providers.smtp.pool_size", "must be at least 1");
        }
        Ok(())
    }
}
