//! The OpenAPI document and the server agree: what schemathesis (.ci/schemathesis.sh) found,
//! pinned down as tests.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp};

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
