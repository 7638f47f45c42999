//! The dashboard's files, built from `dashboard/` (React, Vite) into `dashboard/dist` and
//! embedded in the binary, served at `/` (docs/adr/0024-dashboard.md). Not part of the
//! API: it calls the API like any client, with the session cookie (`session`).
//!
//! `index.html` is never cached and carries the page's security headers; the files under
//! `/assets/` have content hashes in their names and are cached for good.

use axum::{
    extract::Path,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

// The folder is relative to CARGO_MANIFEST_DIR: rust-embed expands no `$VAR` in it without
// its interpolate-folder-path feature (and with `allow_missing` would embed nothing).
#[derive(rust_embed::Embed)]
#[folder = "../../dashboard/dist"]
#[allow_missing = true]
struct Assets;

/// Everything the page may load comes from herald itself; no inline script, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/", get(index)).route("/index.html", get(index)).route(
        "/assets/{*path}",
        get(|Path(path): Path<String>, headers: HeaderMap| async move {
            file(&format!("assets/{path}"), &headers)
        }),
    );
    // Files at the top of dist (an icon, say) at their own paths.
    for name in Assets::iter().filter(|name| !name.contains('/') && name != "index.html") {
        let path = format!("/{name}");
        router = router.route(&path, get(move |headers: HeaderMap| async move { file(&name, &headers) }));
    }
    router
}

async fn index() -> Response {
    let Some(page) = Assets::get("index.html") else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The dashboard was not built into this binary: run `npm ci && npm run build` in dashboard/, then build herald again.\n",
        )
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page.data,
    )
        .into_response()
}

fn file(name: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(name) else {
        return super::error::ApiError::not_found(format!("no dashboard file /{name}")).into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let common = [
        (header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""))),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (common, [(header::CONTENT_TYPE, content_type)], file.data).into_response()
}
