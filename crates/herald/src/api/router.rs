//! Assembles every resource router, the docs and the fallbacks into one axum app.

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{header::CONTENT_LENGTH, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use futures::StreamExt;
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use super::{
    api_keys, campaigns, customers, dashboard, dead_letters,
    error::{ApiError, ErrorCode},
    events, health, metrics, notifications, openapi, overview, preferences, rate_limit, session, sms,
    templates, users, webhooks, AppState,
};

/// Every documented route, registered with its operation: a route cannot exist without
/// its part of the OpenAPI document, and the document is built from this registration.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(sms::router())
        .merge(campaigns::router())
        .merge(customers::router())
        .merge(users::router())
        .merge(preferences::router())
        .merge(templates::router())
        .merge(notifications::router())
        .merge(overview::router())
        .merge(events::router())
        .merge(dead_letters::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(webhooks::router())
        .merge(session::router())
        .merge(api_keys::router())
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    let (routes, document) = routes().split_for_parts();
    // The campaign brief's paths again under /api/v1: the same operations, documented once
    // at their brief path (see the `campaigns` tag).
    let (campaign_aliases, _) = campaigns::router().split_for_parts();
    let dashboard = if state.config.dashboard.enabled { dashboard::router() } else { Router::new() };
    Router::new()
        .merge(routes)
        .merge(dashboard)
        .nest(campaigns::ALIAS_PREFIX, campaign_aliases)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(
            SwaggerUi::new("/docs").external_url_unchecked("/api/v1/openapi.json", openapi::served(document)),
        )
        .layer(middleware::from_fn(rate_limit::write_header_fields))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(body_limit, drain_oversized_body))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            // The path only: query strings may carry personal data.
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .layer(CatchPanicLayer::custom(|_| axum::response::IntoResponse::into_response(ApiError::internal())))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// Bytes of an oversized body read and discarded before answering 413.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and discards a body whose declared length is over the limit before the handler
/// answers 413. Closing a socket that still has unread request bytes makes the kernel
/// reset the connection, and a client still sending would then see a reset instead of
/// the 413; draining (bounded in size and time) lets it read the answer.
async fn drain_oversized_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|len| *len > limit as u64) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    if declared <= DRAIN_CAP {
        let mut stream = body.into_data_stream();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while let Some(Ok(_chunk)) = stream.next().await {}
        })
        .await;
    }
    let error = ApiError::payload_too_large();
    if parts.uri.path() == "/sms" {
        sms::SmsError::from(error).into_response()
    } else {
        error.into_response()
    }
}
