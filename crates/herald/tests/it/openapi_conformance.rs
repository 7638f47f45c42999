//! The OpenAPI document and the server agree: what schemathesis (.ci/schemathesis.sh) found,
//! pinned down as tests.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp, API_KEY};

on_both_backends!(
    ids_and_recipients_written_as_integral_doubles_are_the_integers_they_name,
    the_served_document_links_operations_by_operation_id_and_puts_filters_in_the_query,
);

/// JSON Schema's `integer` holds 3.0; a client that writes every number as a double
/// (JavaScript, .NET's double) must not be refused where the document says integer.
async fn ids_and_recipients_written_as_integral_doubles_are_the_integers_they_name(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer: Value = app
        .post_json("/api/v1/customers", &json!({"phone": "+254712345678", "first_name": "Alice"}))
        .await
        .json()
        .await
        .unwrap();
    let customer_id = customer["id"].as_i64().unwrap();
    let campaign: Value = app
        .post_json(
            "/campaigns",
            &json!({"name": "Doubles", "channel": "sms", "base_template": "Hi {first_name}"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let campaign_id = campaign["id"].as_i64().unwrap();

    let preview_path = format!("/campaigns/{campaign_id}/personalized-preview");
    let response = app.post_json(&preview_path, &json!({"customer_id": customer_id as f64})).await;
    assert_eq!(response.status(), 200);
    let preview: Value = response.json().await.unwrap();
    assert_eq!(preview["rendered_message"], "Hi Alice");

    let send_path = format!("/campaigns/{campaign_id}/send");
    let response = app.post_json(&send_path, &json!({"customer_ids": [1.5]})).await;
    assert_eq!(response.status(), 422, "a fraction is no id");
    let stats = app.get_json(&format!("/campaigns/{campaign_id}")).await;
    assert_eq!((stats["status"].as_str(), stats["stats"]["total"].as_u64()), (Some("draft"), Some(0)));
    let response = app.post_json(&send_path, &json!({"customer_ids": [customer_id as f64]})).await;
    assert_eq!(response.status(), 202);
    let sent: Value = response.json().await.unwrap();
    assert_eq!(sent["messages_queued"], 1);

    let response = app
        .post_json("/sms", &json!({"recipient": 31633450007.0, "originator": "MB", "message": "Hello"}))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let response = app
        .post_json("/sms", &json!({"recipient": 31633450007.5, "originator": "MB", "message": "Hello"}))
        .await;
    assert_eq!(response.status(), 400);
}

async fn the_served_document_links_operations_by_operation_id_and_puts_filters_in_the_query(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Public, like the probes.
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    let operations: Vec<(&String, &Value)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().values().map(move |op| (path, op)))
        .collect();
    let ids: BTreeSet<&str> = operations.iter().filter_map(|(_, op)| op["operationId"].as_str()).collect();

    let send = &document["paths"]["/api/v1/notifications/send"]["post"]["responses"]["202"]["links"];
    assert_eq!(send["GetNotification"]["operationId"], "get_notification", "{send}");
    assert_eq!(send["GetNotification"]["parameters"]["id"], "$response.body#/id");
    for (path, operation) in &operations {
        for response in operation["responses"].as_object().unwrap().values() {
            for link in response["links"].as_object().into_iter().flat_map(|links| links.values()) {
                let target = link["operationId"].as_str().unwrap_or_default();
                assert!(ids.contains(target), "{path}: {link}");
            }
        }
        // A parameter "in: path" that the path does not hold can never be sent.
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            if parameter["in"] == "path" {
                assert!(path.contains(&format!("{{{name}}}")), "{path}: {parameter}");
            }
        }
    }
}

/// Every operation the server has, as (method, path). Routes are registered with their
/// operation (utoipa-axum's `routes!`), so the server cannot answer one the document
/// lacks; this pins the list, so an operation that goes missing or appears is noticed.
const OPERATIONS: [(&str, &str); 44] = [
    ("post", "/sms"),
    ("post", "/api/v1/notifications/send"),
    ("get", "/api/v1/notifications"),
    ("get", "/api/v1/notifications/{id}"),
    ("get", "/api/v1/notifications/user/{user_id}"),
    ("put", "/api/v1/notifications/{id}/status"),
    ("get", "/api/v1/overview"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/dead-letters"),
    ("post", "/api/v1/dead-letters/replay"),
    ("post", "/api/v1/dead-letters/{id}/replay"),
    ("post", "/campaigns"),
    ("get", "/campaigns"),
    ("get", "/campaigns/{id}"),
    ("post", "/campaigns/{id}/personalized-preview"),
    ("post", "/campaigns/{id}/send"),
    ("post", "/api/v1/customers"),
    ("get", "/api/v1/customers"),
    ("get", "/api/v1/customers/{id}"),
    ("post", "/api/v1/customers/import"),
    ("put", "/api/v1/customers/{id}"),
    ("delete", "/api/v1/customers/{id}"),
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/health/startup"),
    ("get", "/metrics"),
    ("post", "/webhooks/providers/{name}/status"),
    ("put", "/api/v1/users/{user_id}"),
    ("get", "/api/v1/users/{user_id}"),
    ("delete", "/api/v1/users/{user_id}"),
    ("get", "/api/v1/templates"),
    ("post", "/api/v1/templates"),
    ("get", "/api/v1/templates/{id}"),
    ("put", "/api/v1/templates/{id}"),
    ("delete", "/api/v1/templates/{id}"),
    ("get", "/api/v1/preferences/user/{user_id}"),
    ("put", "/api/v1/preferences/user/{user_id}"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{id}"),
];

/// Whether an answer came from a route's handler rather than the router's fallbacks
/// (no route: 404 `NOT_FOUND`; no such method on it: 405 `METHOD_NOT_ALLOWED`).
async fn answered_by_a_route(response: reqwest::Response) -> Result<(), String> {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or_default();
    match (status, code) {
        (404, "NOT_FOUND") | (405, "METHOD_NOT_ALLOWED") => Err(format!("{status} {body}")),
        _ => Ok(()),
    }
}

#[crate::harness::test]
async fn the_document_lists_exactly_the_operations_the_server_answers() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let document: Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> =
        OPERATIONS.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    assert_eq!(documented, expected);

    // Each documented operation reaches a handler, and the campaign brief's paths do
    // under /api/v1 as well (the same routes, documented once).
    let with_alias = OPERATIONS.iter().flat_map(|(method, path)| {
        let alias = path.starts_with("/campaigns").then(|| format!("/api/v1{path}"));
        std::iter::once((*method, (*path).to_owned())).chain(alias.map(|alias| (*method, alias)))
    });
    for (method, path) in with_alias {
        let concrete = path.replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .header("X-API-Key", API_KEY)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        if let Err(answer) = answered_by_a_route(response).await {
            panic!("{method} {concrete} reached no route: {answer}");
        }
    }

    // And what is not documented is not served.
    for (method, path) in
        [("GET", "/api/v1/campaign"), ("PATCH", "/api/v1/customers/1"), ("DELETE", "/campaigns/1")]
    {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap();
        assert!(answered_by_a_route(response).await.is_err(), "{method} {path} is served but not documented");
    }
}
