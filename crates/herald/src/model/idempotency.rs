//! Idempotency keys: the response kept for a key and what the store knows of one.

use chrono::{DateTime, Utc};

/// The response stored with an idempotency key, replayed for repeats of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub key: String,
    pub status: u16,
    pub body: String,
}

/// What the store knows of an idempotency key when a request arrives with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is now this request's: go ahead, and complete it with the message insert.
    Acquired,
    /// The first request with this key finished; its response and request fingerprint.
    Completed { fingerprint: [u8; 32], status: u16, body: String },
    /// The first request with this key is still running.
    InFlight { fingerprint: [u8; 32] },
}

/// An idempotency key to claim together with a message's insert (batch intake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub fingerprint: [u8; 32],
    pub now: DateTime<Utc>,
    /// An in-flight claim locked before this is taken to be abandoned.
    pub stale_before: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
