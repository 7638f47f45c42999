//! `[providers.twilio]`, `[providers.africastalking]`, `[providers.vonage]`,
//! `[providers.infobip]`: the credentials of the SMS API presets (a `[[providers]]` entry
//! with that `kind`). Each has an optional `base_url` (a sandbox, or herald's mock in tests)
//! and what its delivery receipts are checked with: Twilio and Vonage sign them; Africa's
//! Talking and Infobip do not, so their receipt URL carries a secret `webhook_token`.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Secret};

pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";
pub const AFRICASTALKING_BASE_URL: &str = "https://api.africastalking.com";
pub const VONAGE_BASE_URL: &str = "https://rest.nexmo.com";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TwilioConfig {
    /// `AC...`: the account the messages are sent from (HTTP Basic user).
    pub account_sid: String,
    /// The account's auth token: the Basic password, and the key of `X-Twilio-Signature`.
    pub auth_token: Option<Secret>,
    /// Sends through a Messaging Service (`MG...`) instead of a `From` number when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messaging_service_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AfricasTalkingConfig {
    /// The application's username (`sandbox` for the sandbox).
    pub username: String,
    pub api_key: Option<Secret>,
    /// Default `https://api.africastalking.com`; the sandbox is
    /// `https://api.sandbox.africastalking.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Delivery reports are accepted only with `?token=<this>` in their URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<Secret>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct VonageConfig {
    pub api_key: String,
    pub api_secret: Option<Secret>,
    /// The account's signature secret: delivery receipts must carry a valid `sig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_secret: Option<Secret>,
    /// How `sig` is computed, as set in Vonage's dashboard: `md5hash` (default), `md5`,
    /// `sha1`, `sha256` or `sha512` (the last four are HMACs).
    pub signature_method: VonageSignatureMethod,
    /// Without a signature secret, receipts are accepted only with `?token=<this>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VonageSignatureMethod {
    #[default]
    Md5hash,
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct InfobipConfig {
    /// Sent as `Authorization: App <api_key>`.
    pub api_key: Option<Secret>,
    /// The account's own API base URL (`https://<id>.api.infobip.com`); required.
    pub base_url: String,
    /// Delivery reports are accepted only with `?token=<this>` in their URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<Secret>,
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

fn required(value: &str, key: &'static str, what: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return invalid(key, &format!("must be set: {what}"));
    }
    Ok(())
}

fn required_secret(value: &Option<Secret>, key: &'static str, what: &str) -> Result<(), ConfigError> {
    required(value.as_ref().map_or("", Secret::expose), key, what)
}

fn optional_url(url: &Option<String>, key: &'static str) -> Result<(), ConfigError> {
    if url.as_deref().is_some_and(|url| !is_http_url(url)) {
        return invalid(key, "must be an http:// or https:// URL");
    }
    Ok(())
}

impl TwilioConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        required(&self.account_sid, "providers.twilio.account_sid", "the Twilio account SID (AC...)")?;
        required_secret(&self.auth_token, "providers.twilio.auth_token", "the account's auth token")?;
        optional_url(&self.base_url, "providers.twilio.base_url")
    }

    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(TWILIO_BASE_URL)
    }
}

impl AfricasTalkingConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        required(&self.username, "providers.africastalking.username", "the application's username")?;
        required_secret(&self.api_key, "providers.africastalking.api_key", "the application's API key")?;
        optional_url(&self.base_url, "providers.africastalking.base_url")
    }

    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(AFRICASTALKING_BASE_URL)
    }
}

impl VonageConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        required(&self.api_key, "providers.vonage.api_key", "the account's API key")?;
        required_secret(&self.api_secret, "providers.vonage.api_secret", "the account's API secret")?;
        optional_url(&self.base_url, "providers.vonage.base_url")
    }

    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(VONAGE_BASE_URL)
    }
}

impl InfobipConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        required_secret(&self.api_key, "providers.infobip.api_key", "the account's API key")?;
        required(&self.base_url, "providers.infobip.base_url", "the account's API base URL")?;
        if !is_http_url(&self.base_url) {
            return invalid("providers.infobip.base_url", "must be an http:// or https:// URL");
        }
        Ok(())
    }
}
