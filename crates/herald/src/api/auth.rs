//! Authentication: an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`), or the
//! dashboard's session cookie.
//!
//! Missing, unknown and revoked keys (and sessions that expired or whose key was revoked)
//! get the same 401; a valid key over its request rate limit gets a 429 (see `rate_limit`).
//! A request that presents a key is judged by the key alone. One that presents only the
//! session cookie must come from herald's own origin, and one that changes state must also
//! carry the session's CSRF token in `X-CSRF-Token`; otherwise it is a 403
//! (`CSRF_TOKEN_INVALID`). SameSite=Strict keeps browsers from sending the cookie on
//! cross-site requests at all; the origin and token checks hold even where it is ignored.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, Method},
};
use chrono::{DateTime, Utc};
use herald_domain::AccountId;

use super::{error::ApiError, rate_limit, AppState};
use crate::{model::ApiKeyRecord, services::api_keys::csrf_matches};

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The account a request is authenticated as, and how.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account_id: AccountId,
    /// The key presented, or the one the session was made with.
    pub key: ApiKeyRecord,
    /// When the session expires, for a request authenticated by the session cookie.
    pub session_expires_at: Option<DateTime<Utc>>,
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(key) = parts.headers.get("x-api-key") {
        return key.to_str().ok();
    }
    let authorization = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session token in the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// Refuses a cookie-authenticated request that a browser marks as coming from another
/// site or origin. `Origin` must be this server's own (scheme and the `Host` asked for);
/// `Sec-Fetch-Site`, where sent, must be `same-origin` (or `none`: typed by the user).
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(ApiError::csrf(format!("a {site} request may not use the session cookie")));
        }
    }
    if let Some(origin) = header("origin") {
        let host = header("host").unwrap_or_default();
        let own = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host));
        if !own {
            return Err(ApiError::csrf("the session cookie is accepted only from herald's own origin"));
        }
    }
    Ok(())
}

/// Refuses a state-changing cookie-authenticated request without the session's CSRF token.
pub fn check_csrf(method: &Method, headers: &HeaderMap, session_token: &str) -> Result<(), ApiError> {
    if method.is_safe() {
        return Ok(());
    }
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if presented.is_empty() || !csrf_matches(session_token, presented) {
        return Err(ApiError::csrf(
            "a request that changes state with the session cookie needs the session's X-CSRF-Token",
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (key, session_expires_at) = match presented_key(parts).filter(|k| !k.is_empty()) {
            Some(presented) => {
                (state.auth.authenticate(presented).await?.ok_or_else(ApiError::unauthorized)?, None)
            }
            None => {
                let token = session_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
                check_same_origin(&parts.headers)?;
                let session = state.auth.session(&token).await?.ok_or_else(ApiError::unauthorized)?;
                check_csrf(&parts.method, &parts.headers, &token)?;
                (session.key, Some(session.expires_at))
            }
        };
        if let Some(limit) = state.rate_limits.limit_for(key.rate_limit) {
            let verdict = state.rate_limits.check(key.id, limit);
            rate_limit::record(parts, verdict);
            if let Some(secs) = verdict.retry_after_secs() {
                return Err(ApiError::rate_limited(secs));
            }
        }
        Ok(Self { account_id: key.account_id, key, session_expires_at })
    }
}
