//! Assembles every resource router, the docs and the fallbacks into one axum app.

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::StatusCode,
    Router,
};
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::{error::ApiError, events, health, notifications, openapi::ApiDoc, sms, AppState};

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    Router::new()
        .merge(sms::router())
        .merge(notifications::router())
        .merge(events::router())
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // The path only: query strings may carry personal data.
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}
