//! `[providers.fcm]`: Firebase Cloud Messaging (HTTP v1) for the push channel (a
//! `[[providers]]` entry with `kind = "fcm"`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// Google's endpoint for FCM HTTP v1.
pub const FCM_ENDPOINT: &str = "https://fcm.googleapis.com";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct FcmProviderConfig {
    /// The service account's JSON key file, as the Firebase console downloads it. Its
    /// private key signs herald's token requests; it is a secret and never logged.
    pub service_account_file: PathBuf,
    /// Where `projects/{project_id}/messages:send` is (a test double's address in tests).
    pub endpoint: String,
    /// Where tokens are exchanged, instead of the file's `token_uri` (a test double).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_uri: Option<String>,
}

impl Default for FcmProviderConfig {
    fn default() -> Self {
        Self { service_account_file: PathBuf::new(), endpoint: FCM_ENDPOINT.into(), token_uri: None }
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

impl FcmProviderConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.service_account_file.as_os_str().is_empty() {
            return invalid(
                "providers.fcm.service_account_file",
                "must name the service account's JSON key file",
            );
        }
        if !is_http_url(&self.endpoint) {
            return invalid("providers.fcm.endpoint", "must be an http:// or https:// URL");
        }
        if self.token_uri.as_deref().is_some_and(|uri| !is_http_url(uri)) {
            return invalid("providers.fcm.token_uri", "must be an http:// or https:// URL");
        }
        Ok(())
    }
}
