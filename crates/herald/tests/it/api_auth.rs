//! Authentication, public endpoints, docs and the error shape of unknown routes.

use chrono::Utc;
use serde_json::Value;

use crate::helpers::{on_both_backends, Backend, TestApp};

on_both_backends!(
    keys_work_as_header_or_bearer_and_revoked_keys_are_refused,
    health_and_docs_are_public,
    unknown_routes_and_ids_get_json_404s,
);

async fn keys_work_as_header_or_bearer_and_revoked_keys_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let account = app.store.ensure_default_account().await.unwrap();
    let created = herald::services::api_keys::create(app.store.as_ref(), account, "test").await.unwrap();
    assert!(created.secret.starts_with("hrld_"));

    let events = app.url("/api/v1/events");
    let with_header = app.client.get(&events).header("X-API-Key", &created.secret).send().await.unwrap();
    assert_eq!(with_header.status(), 200);
    let with_bearer = app.client.get(&events).bearer_auth(&created.secret).send().await.unwrap();
    assert_eq!(with_bearer.status(), 200);
    let wrong_scheme = app
        .client
        .get(&events)
        .header("Authorization", format!("Basic {}", created.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_scheme.status(), 401);

    assert!(app.store.revoke_api_key(created.record.id, Utc::now()).await.unwrap());
    let unknown = app.client.get(&events).header("X-API-Key", "hrld_not-a-real-key").send().await.unwrap();
    let revoked = app.client.get(&events).header("X-API-Key", &created.secret).send().await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(unknown.status(), 401);
    let revoked_body: Value = revoked.json().await.unwrap();
    let unknown_body: Value = unknown.json().await.unwrap();
    assert_eq!(revoked_body, unknown_body, "revoked and unknown keys are indistinguishable");
    assert_eq!(revoked_body["error"]["code"], "UNAUTHORIZED");
}

async fn health_and_docs_are_public(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for path in ["/health", "/health/live", "/health/startup"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok", "{path}");
    }
    let ready: Value = app.client.get(app.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"]["database"], "ok");

    let spec: Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/sms",
        "/api/v1/notifications/send",
        "/api/v1/notifications/{id}",
        "/api/v1/events",
        "/health/ready",
    ] {
        assert!(spec["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    assert!(spec["components"]["securitySchemes"].get("api_key").is_some());

    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
}

async fn unknown_routes_and_ids_get_json_404s(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for path in [
        "/nope",
        "/api/v1/notifications/not-a-uuid",
        "/api/v1/notifications/0190b3c4-0000-7000-8000-000000000000",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let json: Value = response.json().await.unwrap();
        assert!(json["error"]["code"].as_str().unwrap().ends_with("NOT_FOUND"), "{path}: {json}");
    }
    let wrong_method = app.client.delete(app.url("/sms")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["error"]["code"], "METHOD_NOT_ALLOWED");
}
