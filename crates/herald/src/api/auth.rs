//! API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`.
//! Missing, unknown and revoked keys get the same 401; a valid key over its request rate
//! limit gets a 429 (see `rate_limit`).

use axum::{extract::FromRequestParts, http::request::Parts};
use herald_domain::AccountId;

use super::{error::ApiError, rate_limit, AppState};

/// The account a request is authenticated as.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated {
    pub account_id: AccountId,
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(key) = parts.headers.get("x-api-key") {
        return key.to_str().ok();
    }
    let authorization = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = presented_key(parts).filter(|k| !k.is_empty()).ok_or_else(ApiError::unauthorized)?;
        let key = state.auth.authenticate(presented).await?.ok_or_else(ApiError::unauthorized)?;
        if let Some(limit) = state.rate_limits.limit_for(key.rate_limit) {
            let verdict = state.rate_limits.check(key.id, limit);
            rate_limit::record(parts, verdict);
            if let Some(secs) = verdict.retry_after_secs() {
                return Err(ApiError::rate_limited(secs));
            }
        }
        Ok(Self { account_id: key.account_id })
    }
}
