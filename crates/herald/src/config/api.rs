//! `[api]`: limits of the HTTP API itself. `[api.rate_limit]` is the request rate every API
//! key is held to unless it has a limit of its own (`herald api-key create --rate-limit`);
//! docs/adr/0022-api-rate-limits.md says why the default is what it is.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::model::RequestRate;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    pub rate_limit: ApiRateLimitConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiRateLimitConfig {
    /// Requests a second each API key may make to one API process, unless the key has a
    /// limit of its own. 0: keys without a limit of their own are not limited.
    pub requests_per_second: u32,
    /// Requests a key that has been quiet may make at once; unset: `requests_per_second`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Default for ApiRateLimitConfig {
    fn default() -> Self {
        Self { requests_per_second: 10_000, burst: None }
    }
}

impl ApiConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let limit = &self.rate_limit;
        if limit.requests_per_second > RequestRate::MAX {
            return invalid(
                "api.rate_limit.requests_per_second",
                "must be at most 1000000 (0 for no default limit)",
            );
        }
        match limit.burst {
            Some(_) if limit.requests_per_second == 0 => {
                invalid("api.rate_limit.burst", "needs requests_per_second above 0")
            }
            Some(burst) if burst == 0 || burst > RequestRate::MAX => {
                invalid("api.rate_limit.burst", "must be between 1 and 1000000")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its large error type
mod tests {
    use super::*;

    #[test]
    fn bad_rate_limits_name_their_key() {
        let problem = |requests_per_second, burst| {
            let config = ApiConfig { rate_limit: ApiRateLimitConfig { requests_per_second, burst } };
            config.validate().err().map(|error| error.to_string())
        };
        assert_eq!(problem(10_000, None), None);
        assert_eq!(problem(0, None), None, "no default limit");
        assert_eq!(problem(5, Some(20)), None);
        for (requests_per_second, burst, key) in [
            (1_000_001, None, "`api.rate_limit.requests_per_second`"),
            (5, Some(0), "`api.rate_limit.burst`"),
            (0, Some(5), "`api.rate_limit.burst`"),
        ] {
            let error = problem(requests_per_second, burst).expect("refused");
            assert!(error.contains(key), "{requests_per_second} {burst:?}: {error}");
        }
    }

    #[test]
    fn the_default_limit_is_set_from_the_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("herald.toml", "[api.rate_limit]\nrequests_per_second = 50\nburst = 80\n")?;
            let config = super::super::Config::load(None).unwrap();
            assert_eq!(
                (config.api.rate_limit.requests_per_second, config.api.rate_limit.burst),
                (50, Some(80))
            );
            jail.set_env("HERALD_API__RATE_LIMIT__REQUESTS_PER_SECOND", "0");
            jail.create_file("herald.toml", "")?;
            assert_eq!(super::super::Config::load(None).unwrap().api.rate_limit.requests_per_second, 0);
            Ok(())
        });
    }
}
