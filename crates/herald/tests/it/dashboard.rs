//! The dashboard's server side (docs/adr/0024-dashboard.md): its files at `/`, sign-in with
//! an API key for an HttpOnly SameSite=Strict session cookie, the CSRF and origin rules for
//! requests made with that cookie, and the API keys endpoints, on both backends.

use chrono::{Duration, Utc};
use herald::{model::SessionRecord, services::api_keys::hash_key};
use reqwest::{header, Method};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp, API_KEY};

on_both_backends!(
    signing_in_sets_an_http_only_strict_cookie_that_authenticates_like_the_key,
    a_wrong_or_revoked_key_gets_401_and_no_cookie,
    with_the_cookie_changing_state_needs_the_csrf_token_and_herald_s_own_origin,
    signing_out_ends_the_session_everywhere,
    revoking_a_key_ends_its_sessions_and_a_key_cannot_revoke_itself,
    an_expired_session_is_refused,
    api_keys_are_listed_newest_first_and_created_keys_are_shown_once,
);

/// A signed-in session: the `Cookie` header to send and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, key: &str) -> (u16, Option<String>, Value) {
    let response =
        app.client.post(app.url("/api/v1/session")).json(&json!({"api_key": key})).send().await.unwrap();
    let status = response.status().as_u16();
    let set_cookie = response.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned());
    (status, set_cookie, response.json().await.unwrap_or(Value::Null))
}

async fn session(app: &TestApp, key: &str) -> Session {
    let (status, set_cookie, body) = sign_in(app, key).await;
    assert_eq!(status, 201, "{body}");
    let set_cookie = set_cookie.expect("a Set-Cookie");
    let pair = set_cookie.split(';').next().unwrap().trim().to_owned();
    Session { cookie: pair, csrf: body["csrf_token"].as_str().unwrap().to_owned() }
}

/// A request with the session cookie and the extra headers given, never the key.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).header(header::COOKIE, cookie);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn customer_count(app: &TestApp) -> usize {
    let (status, body) = app.call(Method::GET, "/api/v1/customers?limit=100", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().len()
}

async fn create_key(app: &TestApp, name: &str) -> (String, String) {
    let (status, body) = app.call(Method::POST, "/api/v1/api-keys", Some(&json!({"name": name}))).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
}

async fn signing_in_sets_an_http_only_strict_cookie_that_authenticates_like_the_key(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (status, set_cookie, body) = sign_in(&app, API_KEY).await;
    assert_eq!(status, 201, "{body}");
    let set_cookie = set_cookie.unwrap();
    for attribute in ["herald_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no Secure cookie over plain HTTP: {set_cookie}");
    assert!(!set_cookie.contains(API_KEY), "the cookie is not the key");
    assert!(body["csrf_token"].as_str().is_some_and(|t| t.len() >= 40), "{body}");
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires.with_timezone(&Utc) - Utc::now();
    assert!(ttl > Duration::hours(7) && ttl <= Duration::hours(8), "{ttl}");
    assert_eq!(body["api_key"]["name"], "bootstrap", "{body}");

    let session = session(&app, API_KEY).await;
    // Reads work with the cookie alone.
    let (status, list) =
        with_cookie(&app, Method::GET, "/api/v1/customers", &session.cookie, &[], None).await;
    assert_eq!(status, 200, "{list}");
    // The session tells the dashboard its CSRF token again (after a reload, say).
    let (status, current) =
        with_cookie(&app, Method::GET, "/api/v1/session", &session.cookie, &[], None).await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["csrf_token"], session.csrf.as_str());
    // With the key, the same endpoint names the key and has no session.
    let (status, by_key) = app.call(Method::GET, "/api/v1/session", None).await;
    assert_eq!(status, 200, "{by_key}");
    assert_eq!(by_key["csrf_token"], Value::Null);
    assert_eq!(by_key["expires_at"], Value::Null);
    assert_eq!(by_key["api_key"]["id"], current["api_key"]["id"]);

    // Behind a TLS-terminating proxy the cookie is Secure.
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"api_key": API_KEY}))
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    app.stop().await;
}

async fn a_wrong_or_revoked_key_gets_401_and_no_cookie(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for wrong in ["hrld_not-a-key", "", &API_KEY[..API_KEY.len() - 1]] {
        let (status, set_cookie, body) = sign_in(&app, wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        assert!(set_cookie.is_none(), "{set_cookie:?}");
    }
    let (id, key) = create_key(&app, "short-lived").await;
    assert_eq!(app.call(Method::DELETE, &format!("/api/v1/api-keys/{id}"), None).await.0, 204);
    assert_eq!(sign_in(&app, &key).await.0, 401);
    // A made-up cookie is no session.
    let (status, body) =
        with_cookie(&app, Method::GET, "/api/v1/customers", "herald_session=made-up", &[], None).await;
    assert_eq!(status, 401, "{body}");
    app.stop().await;
}

async fn with_the_cookie_changing_state_needs_the_csrf_token_and_herald_s_own_origin(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let session = session(&app, API_KEY).await;
    let customer = json!({"phone": "+254712345678", "first_name": "Ann"});
    let own_origin = app.base_url.clone();
    let refused: [(&str, Vec<(&str, &str)>); 5] = [
        ("no token", vec![]),
        ("a wrong token", vec![("X-CSRF-Token", "not-the-token")]),
        ("another session's token shape", vec![("X-CSRF-Token", &session.cookie)]),
        ("another origin", vec![("X-CSRF-Token", &session.csrf), ("Origin", "http://evil.example")]),
        ("a cross-site fetch", vec![("X-CSRF-Token", &session.csrf), ("Sec-Fetch-Site", "cross-site")]),
    ];
    for (why, headers) in &refused {
        let (status, body) =
            with_cookie(&app, Method::POST, "/api/v1/customers", &session.cookie, headers, Some(&customer))
                .await;
        assert_eq!(status, 403, "{why}: {body}");
        assert_eq!(body["error"]["code"], "CSRF_TOKEN_INVALID", "{why}");
    }
    assert_eq!(customer_count(&app).await, 0, "a refused request changes nothing");
    // A cross-site page may not even read with the cookie.
    let (status, _) = with_cookie(
        &app,
        Method::GET,
        "/api/v1/customers",
        &session.cookie,
        &[("Sec-Fetch-Site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(status, 403);
    // The dashboard's own request: same origin, with the token.
    let headers = [
        ("X-CSRF-Token", session.csrf.as_str()),
        ("Origin", own_origin.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let (status, body) =
        with_cookie(&app, Method::POST, "/api/v1/customers", &session.cookie, &headers, Some(&customer))
            .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(customer_count(&app).await, 1);
    // A program with a key needs no token, whatever cookie it also sends.
    let (status, body) =
        app.call(Method::POST, "/api/v1/customers", Some(&json!({"phone": "+254712345679"}))).await;
    assert_eq!(status, 201, "{body}");
    app.stop().await;
}

async fn signing_out_ends_the_session_everywhere(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let session = session(&app, API_KEY).await;
    let other = self::session(&app, API_KEY).await;
    let (status, body) =
        with_cookie(&app, Method::DELETE, "/api/v1/session", &session.cookie, &[], None).await;
    assert_eq!(status, 403, "sign-out needs the token too: {body}");
    let response = app
        .client
        .delete(app.url("/api/v1/session"))
        .header(header::COOKIE, &session.cookie)
        .header("X-CSRF-Token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let cleared = response.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.starts_with("herald_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/customers", &session.cookie, &[], None).await;
    assert_eq!(status, 401, "the session is gone server side, not only the cookie");
    // Another session of the same key goes on.
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/customers", &other.cookie, &[], None).await;
    assert_eq!(status, 200);
    // Signing out without a session only clears the cookie.
    let (status, _) =
        with_cookie(&app, Method::DELETE, "/api/v1/session", "herald_session=gone", &[], None).await;
    assert_eq!(status, 204);
    app.stop().await;
}

async fn revoking_a_key_ends_its_sessions_and_a_key_cannot_revoke_itself(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (id, key) = create_key(&app, "dashboard user").await;
    let session = session(&app, &key).await;
    // The session cannot revoke the key it was made with.
    let path = format!("/api/v1/api-keys/{id}");
    let (status, body) =
        with_cookie(&app, Method::DELETE, &path, &session.cookie, &[("X-CSRF-Token", &session.csrf)], None)
            .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "API_KEY_IN_USE");
    let response = app.client.delete(app.url(&path)).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 409, "nor can the key itself");

    assert_eq!(app.call(Method::DELETE, &path, None).await.0, 204);
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/customers", &session.cookie, &[], None).await;
    assert_eq!(status, 401, "revoking the key ended its session");
    let response =
        app.client.get(app.url("/api/v1/customers")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let (status, body) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "API_KEY_NOT_FOUND");
    for unknown in ["not-a-uuid", "00000000-0000-4000-8000-000000000000"] {
        let (status, _) = app.call(Method::DELETE, &format!("/api/v1/api-keys/{unknown}"), None).await;
        assert_eq!(status, 404, "{unknown}");
    }
    app.stop().await;
}

async fn an_expired_session_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let key = app.store.list_api_keys().await.unwrap().into_iter().find(|k| k.revoked_at.is_none()).unwrap();
    let now = Utc::now();
    let token = "an-expired-session-token";
    app.store
        .insert_session(&SessionRecord {
            token_hash: hash_key(token),
            api_key_id: key.id,
            created_at: now - Duration::hours(9),
            expires_at: now - Duration::seconds(1),
        })
        .await
        .unwrap();
    let cookie = format!("herald_session={token}");
    let (status, body) = with_cookie(&app, Method::GET, "/api/v1/customers", &cookie, &[], None).await;
    assert_eq!(status, 401, "{body}");
    // A new sign-in sweeps it away.
    session(&app, API_KEY).await;
    assert!(app.store.find_session(&hash_key(token), now - Duration::hours(1)).await.unwrap().is_none());
    app.stop().await;
}

async fn api_keys_are_listed_newest_first_and_created_keys_are_shown_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&json!({"name": "billing", "rate_limit_per_second": 50})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("hrld_") && key.starts_with(body["prefix"].as_str().unwrap()), "{body}");
    assert_eq!(body["rate_limit_per_second"], 50);
    assert_eq!(body["revoked_at"], Value::Null);
    let response =
        app.client.get(app.url("/api/v1/customers")).header("X-API-Key", key).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "the new key works at once");

    let (status, list) = app.call(Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> =
        list["data"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["billing", "bootstrap"]);
    assert!(!list.to_string().contains(key), "a listing never shows a key");
    assert!(list["data"].as_array().unwrap().iter().all(|k| k.get("key").is_none()));

    for (input, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "ok", "rate_limit_per_second": 0}), "rate_limit_per_second"),
    ] {
        let (status, body) = app.call(Method::POST, "/api/v1/api-keys", Some(&input)).await;
        assert_eq!(status, 422, "{input}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (status, _) =
        app.call(Method::POST, "/api/v1/api-keys", Some(&json!({"name": "x", "extra": 1}))).await;
    assert_eq!(status, 422);
    let (_, list) = app.call(Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "refused creations stored nothing");
    app.stop().await;
}

/// The dashboard's `index.html` and the files it names, as built into `dashboard/dist`.
fn built_files() -> (String, Vec<String>) {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dashboard/dist");
    let index = std::fs::read_to_string(format!("{dist}/index.html"))
        .expect("dashboard/dist/index.html is committed");
    let assets = regex::Regex::new(r#"(?:src|href)="(/assets/[^"]+)""#)
        .unwrap()
        .captures_iter(&index)
        .map(|c| c[1].to_owned())
        .collect();
    (index, assets)
}

#[crate::harness::test]
async fn the_dashboard_is_served_at_the_root_from_the_binary_with_its_security_headers() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (index, assets) = built_files();
    assert!(!assets.is_empty(), "index.html names its script and stylesheet: {index}");

    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert_eq!(page.text().await.unwrap(), index, "the binary serves the committed build");

    for asset in &assets {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        let kind = header(&response, "content-type");
        let expected = if asset.ends_with(".js") { "javascript" } else { "text/css" };
        assert!(kind.contains(expected), "{asset}: {kind}");
        assert_eq!(header(&response, "cache-control"), "public, max-age=31536000, immutable");
        let etag = header(&response, "etag");
        assert!(etag.starts_with('"'), "{asset}: {etag:?}");
        let again = app.client.get(app.url(asset)).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(again.status().as_u16(), 304, "{asset}");
    }
    let (status, body) = app.call(Method::GET, "/assets/no-such-file.js", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    app.stop().await;

    // Turned off, `/` is not served; the API is.
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, herald::app::Roles::ALL, |config| {
        config.dashboard.enabled = false;
    })
    .await
    else {
        return;
    };
    assert_eq!(app.client.get(app.url("/")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(app.call(Method::GET, "/api/v1/session", None).await.0, 200);
    app.stop().await;
}
