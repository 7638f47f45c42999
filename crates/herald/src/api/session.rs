//! `/api/v1/session`: the dashboard's sign-in. An API key is exchanged for a session
//! cookie (HttpOnly, SameSite=Strict, expiring, ended when the key is revoked) and the
//! CSRF token that state-changing requests made with it must carry (see `auth`).

use axum::{
    extract::State,
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Utc};
use cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    api_keys::ApiKeyRef,
    auth::{check_csrf, check_same_origin, session_token, Authenticated, SESSION_COOKIE},
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    AppState,
};
use crate::services::api_keys::csrf_token;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, current_session, sign_out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInIn {
    /// An active API key of the account.
    #[schema(example = "hrld_3q2m…")]
    pub api_key: String,
}

/// Who the request is authenticated as. With the session cookie: the session's expiry and
/// the CSRF token to send as `X-CSRF-Token` on requests that change state; with an API key
/// both are null.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub csrf_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The key presented, or the one the session was made with.
    pub api_key: ApiKeyRef,
}

fn secure_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.dashboard.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_cookie(value: String, max_age_secs: i64, secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(CookieDuration::seconds(max_age_secs))
        .secure(secure)
        .build()
        .to_string()
}

/// Signs in with an API key: sets the session cookie and answers the CSRF token. For the
/// dashboard; programs use the key itself. Unknown and revoked keys get a 401.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    request_body(content = SignInIn, example = json!({"api_key": "hrld_3q2mExampleKeyOnly"})),
    responses(
        (status = 201, description = "Signed in; `Set-Cookie: herald_session=…; HttpOnly; SameSite=Strict; Path=/`",
            body = SessionOut,
            headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 401, description = "Unknown or revoked API key (`UNAUTHORIZED`)", body = ErrorBody),
        (status = 403, description = "A cross-origin browser request (`CSRF_TOKEN_INVALID`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`DATABASE_UNAVAILABLE`)", body = ErrorBody),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SignInIn>,
) -> ApiResult<Response> {
    check_same_origin(&headers)?;
    let made = state.auth.sign_in(&input.api_key).await?.ok_or_else(ApiError::unauthorized)?;
    let max_age = i64::try_from(state.config.dashboard.session_ttl_secs).unwrap_or(i64::MAX);
    let cookie = session_cookie(made.token.clone(), max_age, secure_cookie(&state, &headers));
    let body = SessionOut {
        csrf_token: Some(csrf_token(&made.token)),
        expires_at: Some(made.session.expires_at),
        api_key: ApiKeyRef::from(&made.session.key),
    };
    Ok((StatusCode::CREATED, [(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// The session (or key) the request is authenticated with.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "session",
    responses((status = 200, body = SessionOut)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn current_session(auth: Authenticated, headers: HeaderMap) -> Json<SessionOut> {
    let csrf = auth.session_expires_at.and(session_token(&headers)).map(|token| csrf_token(&token));
    Json(SessionOut {
        csrf_token: csrf,
        expires_at: auth.session_expires_at,
        api_key: ApiKeyRef::from(&auth.key),
    })
}

/// Signs out: ends the session and clears its cookie. Without a session cookie it only
/// clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "A cross-origin request, or one without the session's CSRF token (`CSRF_TOKEN_INVALID`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`DATABASE_UNAVAILABLE`)", body = ErrorBody),
    )
)]
pub async fn sign_out(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = session_token(&headers) {
        if state.auth.session(&token).await?.is_some() {
            check_same_origin(&headers)?;
            check_csrf(&method, &headers, &token)?;
            state.auth.sign_out(&token).await?;
        }
    }
    let cleared = session_cookie(String::new(), 0, secure_cookie(&state, &headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]).into_response())
}
