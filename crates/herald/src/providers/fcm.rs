//! Push over Firebase Cloud Messaging, HTTP v1. herald signs a JWT with the service
//! account's key, exchanges it at the account's `token_uri` for an access token, keeps that
//! token until shortly before it expires (one exchange per token lifetime, shared by every
//! send), and POSTs `projects/{project_id}/messages:send` with the title, body and data.
//!
//! Answers are classified by FCM's error codes: `UNREGISTERED`, `SENDER_ID_MISMATCH` and an
//! `INVALID_ARGUMENT` about the registration token mean the token is dead (the caller should
//! drop it); another `INVALID_ARGUMENT` is a permanent refusal of the message;
//! `UNAVAILABLE`, `INTERNAL`, `QUOTA_EXCEEDED` and 429 are retried, honouring `Retry-After`.
//! A 401 means the access token was refused: it is exchanged again once and the send
//! repeated.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use herald_domain::{Channel, Recipient};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{header::RETRY_AFTER, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::http::parse_retry_after;
use crate::{
    config::{FcmProviderConfig, Secret},
    ports::{Outbound, Provider, ProviderError, ProviderReceipt},
};

/// The OAuth scope FCM sends need.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Lifetime herald asks for its signed assertions (Google's maximum).
const ASSERTION_SECS: u64 = 3600;
/// A token is exchanged again this long before it expires (less for very short lifetimes).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const MAX_QUOTED: usize = 200;

/// The fields of a service account key file herald uses.
#[derive(Deserialize)]
struct ServiceAccountFile {
    project_id: String,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

/// Why the FCM provider could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FcmSetupError {
    #[error("providers.fcm.service_account_file: cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("providers.fcm.service_account_file: {0}")]
    Invalid(String),
    #[error("providers.fcm: {0}")]
    Client(#[from] reqwest::Error),
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

pub struct FcmProvider {
    name: String,
    client: reqwest::Client,
    send_url: String,
    token_uri: String,
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    token: Mutex<Option<CachedToken>>,
    exchanges: AtomicU64,
}

impl std::fmt::Debug for FcmProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmProvider")
            .field("name", &self.name)
            .field("send_url", &self.send_url)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A refusal's FCM error code (`details[].errorCode`) or, failing that, its gRPC status.
fn error_code(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let detail = error
        .get("details")
        .and_then(Value::as_array)
        .and_then(|details| details.iter().find_map(|d| d.get("errorCode").and_then(Value::as_str)));
    detail.or_else(|| error.get("status").and_then(Value::as_str)).map(str::to_owned)
}

fn quoted(text: &str) -> String {
    text.chars().take(MAX_QUOTED).collect()
}

impl FcmProvider {
    /// Reads the service account file named by `config`. `max_concurrency`: the provider's
    /// limit, which sizes the connection pool.
    pub fn new(
        name: &str,
        config: &FcmProviderConfig,
        max_concurrency: usize,
    ) -> Result<Self, FcmSetupError> {
        let path = &config.service_account_file;
        let text = std::fs::read_to_string(path)
            .map_err(|source| FcmSetupError::Read { path: path.display().to_string(), source })?;
        Self::from_key_file(name, config, &text, path, max_concurrency)
    }

    fn from_key_file(
        name: &str,
        config: &FcmProviderConfig,
        text: &str,
        path: &Path,
        max_concurrency: usize,
    ) -> Result<Self, FcmSetupError> {
        // Never quote the file in an error: it holds the private key.
        let account: ServiceAccountFile = serde_json::from_str(text).map_err(|e| {
            FcmSetupError::Invalid(format!(
                "{} is not a service account key file (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(|_| {
            FcmSetupError::Invalid(format!("{}: private_key is not an RSA key in PEM", path.display()))
        })?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(max_concurrency)
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let endpoint = config.endpoint.trim_end_matches('/');
        Ok(Self {
            name: name.to_owned(),
            client,
            send_url: format!("{endpoint}/v1/projects/{}/messages:send", account.project_id),
            token_uri: config.token_uri.clone().unwrap_or(account.token_uri),
            client_email: account.client_email,
            key_id: account.private_key_id,
            key,
            token: Mutex::new(None),
            exchanges: AtomicU64::new(0),
        })
    }

    /// Token exchanges made so far (one per token lifetime when all goes well).
    pub fn token_exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// The signed assertion for the token exchange (RFC 7523).
    fn assertion(&self) -> Result<String, ProviderError> {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_SECS,
        };
        let header = Header { kid: self.key_id.clone(), ..Header::new(Algorithm::RS256) };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| ProviderError::Retryable {
            reason: format!("FCM: could not sign the token request: {e}"),
            retry_after: None,
        })
    }

    /// The cached access token, or a new one. Concurrent sends wait for one exchange.
    /// `refused`: a token FCM just refused, to replace unless another send already did.
    async fn access_token(&self, refused: Option<&str>) -> Result<Secret, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            let was_refused = refused.is_some_and(|r| r == token.value.expose());
            if !was_refused && Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let token = self.exchange().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn exchange(&self) -> Result<CachedToken, ProviderError> {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let retryable = |reason: String| ProviderError::Retryable { reason, retry_after: None };
        let assertion = self.assertion()?;
        let started = Instant::now();
        let response = self
            .client
            .post(&self.token_uri)
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)])
            .send()
            .await
            .map_err(|e| retryable(format!("FCM token exchange: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            // A refused exchange is the provider's configuration, not the message: the
            // message waits (and the breaker opens) rather than failing.
            let body = response.text().await.unwrap_or_default();
            return Err(retryable(format!(
                "FCM token exchange: HTTP {}: {}",
                status.as_u16(),
                quoted(&body)
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| retryable(format!("FCM token exchange: unreadable answer: {e}")))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(ASSERTION_SECS));
        let margin = REFRESH_MARGIN.min(lifetime / 10);
        tracing::info!(provider = %self.name, lifetime_secs = lifetime.as_secs(), "FCM access token obtained");
        Ok(CachedToken { value: Secret::new(answer.access_token), refresh_at: started + lifetime - margin })
    }

    fn request_body(token: &str, outbound: &Outbound<'_>) -> Value {
        let mut notification = json!({ "body": outbound.text });
        if let Some(title) = &outbound.content.subject {
            notification["title"] = json!(title);
        }
        let mut message = json!({ "token": token, "notification": notification });
        if !outbound.content.data.is_empty() {
            message["data"] = json!(outbound.content.data);
        }
        json!({ "message": message })
    }

    async fn post(&self, access_token: &Secret, body: &Value) -> Result<reqwest::Response, ProviderError> {
        self.client
            .post(&self.send_url)
            .bearer_auth(access_token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| ProviderError::Retryable { reason: format!("FCM: {e}"), retry_after: None })
    }
}

/// What FCM's refusal means for the message.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> ProviderError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = error_code(&parsed).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    let message =
        parsed.pointer("/error/message").and_then(Value::as_str).map_or_else(|| quoted(body), quoted);
    let reason = format!("FCM {code} (HTTP {}): {message}", status.as_u16());
    match code.as_str() {
        "UNREGISTERED" | "SENDER_ID_MISMATCH" => ProviderError::RecipientInvalid { reason },
        "INVALID_ARGUMENT" if message.to_lowercase().contains("registration token") => {
            ProviderError::RecipientInvalid { reason }
        }
        "UNAVAILABLE" | "INTERNAL" | "QUOTA_EXCEEDED" => ProviderError::Retryable { reason, retry_after },
        _ if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
            ProviderError::Retryable { reason, retry_after }
        }
        _ => ProviderError::Permanent { reason },
    }
}

#[async_trait]
impl Provider for FcmProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn channels(&self) -> &[Channel] {
        &[Channel::Push]
    }

    async fn send(&self, outbound: &Outbound<'_>) -> Result<ProviderReceipt, ProviderError> {
        let Recipient::Push(device) = outbound.to else {
            return Err(ProviderError::Permanent {
                reason: format!("FCM sends push, not {}", outbound.channel),
            });
        };
        let body = Self::request_body(device.as_str(), outbound);
        let mut token = self.access_token(None).await?;
        let mut response = self.post(&token, &body).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            // The access token was revoked or expired early: exchange once more and repeat.
            token = self.access_token(Some(token.expose())).await?;
            response = self.post(&token, &body).await?;
        }
        let status = response.status();
        let retry_after =
            response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let text = response.text().await.map_err(|e| ProviderError::Retryable {
            reason: format!("FCM: the answer broke off: {e}"),
            retry_after: None,
        })?;
        if !status.is_success() {
            return Err(classify(status, retry_after, &text));
        }
        let name = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned));
        Ok(ProviderReceipt { provider_message_id: name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_FILE: &str = include_str!("../../tests/support/fcm-service-account.json");
    const PUBLIC_KEY: &str = include_str!("../../tests/support/fcm-service-account.pub.pem");

    fn provider() -> FcmProvider {
        let config = FcmProviderConfig {
            token_uri: Some("http://127.0.0.1:9/token".into()),
            ..FcmProviderConfig::default()
        };
        FcmProvider::from_key_file("fcm", &config, KEY_FILE, Path::new("test.json"), 4).unwrap()
    }

    #[test]
    fn the_assertion_is_signed_with_the_service_accounts_key_for_the_token_uri() {
        let provider = provider();
        assert_eq!(provider.send_url, "https://fcm.googleapis.com/v1/projects/herald-test/messages:send");
        let assertion = provider.assertion().unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["http://127.0.0.1:9/token"]);
        validation.set_issuer(&["herald-test@herald-test.iam.gserviceaccount.com"]);
        let decoded =
            jsonwebtoken::decode::<Value>(&assertion, &key, &validation).expect("a valid signature");
        assert_eq!(decoded.claims["scope"], SCOPE);
        assert_eq!(decoded.header.kid.as_deref(), Some("test-key-1"));
        let lifetime = decoded.claims["exp"].as_u64().unwrap() - decoded.claims["iat"].as_u64().unwrap();
        assert_eq!(lifetime, ASSERTION_SECS);
    }

    #[test]
    fn fcm_error_codes_are_classified() {
        let answer = |status: u16, code: &str, message: &str| {
            let body = json!({"error": {"code": status, "message": message, "status": "X",
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}});
            classify(StatusCode::from_u16(status).unwrap(), Some(Duration::from_secs(7)), &body.to_string())
        };
        assert!(matches!(answer(404, "UNREGISTERED", "Requested entity was not found."),
            ProviderError::RecipientInvalid { reason } if reason.contains("UNREGISTERED")));
        assert!(matches!(
            answer(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
            ProviderError::RecipientInvalid { .. }
        ));
        assert!(matches!(
            answer(400, "INVALID_ARGUMENT", "Invalid JSON payload"),
            ProviderError::Permanent { .. }
        ));
        for (status, code) in [(503, "UNAVAILABLE"), (500, "INTERNAL"), (429, "QUOTA_EXCEEDED")] {
            assert!(
                matches!(answer(status, code, "x"), ProviderError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
                "{code}"
            );
        }
        assert!(matches!(classify(StatusCode::BAD_GATEWAY, None, "<html>"), ProviderError::Retryable { .. }));
        assert!(matches!(classify(StatusCode::FORBIDDEN, None, "{}"), ProviderError::Permanent { .. }));
    }

    #[test]
    fn a_bad_key_file_is_named_without_quoting_it() {
        let config = FcmProviderConfig::default();
        let error = FcmProvider::from_key_file(
            "fcm",
            &config,
            "{\"private_key\": \"secret-bits\"",
            Path::new("k.json"),
            4,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("k.json") && !error.contains("secret-bits"), "{error}");
    }
}
