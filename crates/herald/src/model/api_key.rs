//! API keys as stored, and the request rate a key may be held to.

use std::{num::NonZeroU32, str::FromStr};

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId};

/// An API key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub account_id: AccountId,
    pub name: String,
    pub prefix: String,
    pub hash: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key's own request rate limit; None: the configured default (`[api.rate_limit]`).
    pub rate_limit: Option<RequestRate>,
}

/// A dashboard session as stored: the SHA-256 of its token, and the key it was made with.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub token_hash: [u8; 32],
    pub api_key_id: ApiKeyId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session that is still good: not expired, and its key not revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSession {
    pub expires_at: DateTime<Utc>,
    pub key: ApiKeyRecord,
}

/// A request rate limit, written `5/s`: at most that many requests a second, and as many
/// at once from a key that has been quiet for a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestRate(NonZeroU32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a rate limit is a number of requests a second from 1 to {max}, written like 5/s", max = RequestRate::MAX)]
pub struct RequestRateError;

impl RequestRate {
    /// The highest rate a limit can name (a GCRA interval of one microsecond).
    pub const MAX: u32 = 1_000_000;

    pub fn per_second(requests: u32) -> Result<Self, RequestRateError> {
        NonZeroU32::new(requests).filter(|n| n.get() <= Self::MAX).map(Self).ok_or(RequestRateError)
    }

    pub fn get(self) -> NonZeroU32 {
        self.0
    }
}

impl FromStr for RequestRate {
    type Err = RequestRateError;

    /// `5/s`, or a bare `5`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix("/s").unwrap_or(text.trim());
        Self::per_second(number.parse().map_err(|_| RequestRateError)?)
    }
}

impl std::fmt::Display for RequestRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_written_per_second_and_read_back() {
        let rate: RequestRate = "5/s".parse().unwrap();
        assert_eq!(rate.get().get(), 5);
        assert_eq!(rate.to_string(), "5/s");
        assert_eq!("12".parse::<RequestRate>(), RequestRate::per_second(12));
        assert_eq!("1000000/s".parse::<RequestRate>().unwrap().get().get(), RequestRate::MAX);
        for refused in ["0/s", "-1/s", "5/m", "1000001/s", "", "/s", "five/s", "5 /s"] {
            assert_eq!(refused.parse::<RequestRate>(), Err(RequestRateError), "{refused:?}");
        }
    }
}
