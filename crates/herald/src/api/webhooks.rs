//! `POST /webhooks/providers/{name}/status`: delivery receipts from the SMS API presets.
//! Public (providers carry no API key): each receipt is authenticated the way its provider
//! signs it, or by the webhook token in the URL where it does not.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header::RETRY_AFTER, HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ErrorBody, ErrorCode},
    AppState,
};
use crate::{
    providers::sms_apis::{ReceiptError, ReceiptRequest},
    services::receipts::TakeError,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(provider_status))
}

/// What herald did with the receipts of one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptsOut {
    /// Receipts that moved their message to `delivered` or `undelivered`.
    pub applied: usize,
    /// Receipts that changed nothing: a status on the way, a repeat, or an unknown message.
    pub ignored: usize,
}

/// Seconds a provider is asked to wait before sending a receipt again that overtook
/// herald's own commit of the send.
const RETRY_RECEIPT_SECS: u64 = 5;

/// Takes a provider's delivery receipt (Twilio status callback, Africa's Talking delivery
/// report, Vonage DLR, Infobip delivery report), form-encoded or JSON as the provider sends
/// it. A receipt moves a `sent` message to `delivered` or `undelivered` and publishes
/// `notification.delivered` / `notification.undelivered`; a repeat, a status on the way
/// and a receipt for a message herald does not know change nothing and are answered 200.
#[utoipa::path(
    post,
    path = "/webhooks/providers/{name}/status",
    tag = "webhooks",
    params(
        ("name" = String, Path, description = "The provider's name in `[[providers]]`"),
        ("token" = Option<String>, Query, description = "The provider's `webhook_token`, for providers that do not sign their receipts (Africa's Talking, Infobip, Vonage without a signature secret)"),
    ),
    request_body(
        description = "The receipt exactly as the provider sends it",
        content(
            (serde_json::Value = "application/x-www-form-urlencoded"),
            (serde_json::Value = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Taken", body = ReceiptsOut),
        (status = 400, description = "Not a receipt of this provider's format: a field is missing or malformed (`BAD_REQUEST`); nothing changed", body = ErrorBody),
        (status = 401, description = "The signature or webhook token does not match (`UNAUTHORIZED`); nothing changed", body = ErrorBody),
        (status = 404, description = "No provider of this name takes receipts (`PROVIDER_NOT_FOUND`)", body = ErrorBody),
        (status = 503, description = "The message is still being sent, or the database is unavailable: send the receipt again later (`NOT_SENT_YET` with `Retry-After`, or `DATABASE_UNAVAILABLE`)", body = ErrorBody),
    ),
)]
pub async fn provider_status(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw_query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = raw_query
        .as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let url = called_url(&state, &uri, &headers);
    let request = ReceiptRequest { url: &url, query: &query, headers: &headers, body: &body };
    match state.receipts.take(&name, &request).await {
        Ok(taken) if taken.not_sent_yet > 0 => {
            let mut response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NotSentYet,
                "the message is still being sent; send this receipt again later",
            )
            .into_response();
            response.headers_mut().insert(RETRY_AFTER, RETRY_RECEIPT_SECS.into());
            response
        }
        Ok(taken) => Json(ReceiptsOut { applied: taken.applied, ignored: taken.ignored }).into_response(),
        Err(TakeError::Refused(ReceiptError::Unauthenticated(_))) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "the receipt's signature or webhook token does not match",
        )
        .into_response(),
        Err(TakeError::Refused(ReceiptError::Malformed(reason))) => {
            ApiError::bad_request(reason).into_response()
        }
        Err(TakeError::Refused(ReceiptError::NotAccepted(reason))) => {
            ApiError::new(StatusCode::NOT_FOUND, ErrorCode::ProviderNotFound, reason).into_response()
        }
        Err(TakeError::Store(error)) => ApiError::from(error).into_response(),
    }
}

/// The URL the provider called, as it knows herald: `public_url` with this path and query
/// (herald may sit behind a proxy that rewrites the host); without `public_url`, the
/// request's own `Host` over plain HTTP.
fn called_url(state: &AppState, uri: &Uri, headers: &HeaderMap) -> String {
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    match &state.config.public_url {
        Some(base) => format!("{}{path_and_query}", base.trim_end_matches('/')),
        None => {
            let host =
                headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}{path_and_query}")
        }
    }
}
