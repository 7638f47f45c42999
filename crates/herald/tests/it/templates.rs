//! `/api/v1/templates`: create, read, list, version, soft-delete, and the 422s, on both
//! backends.

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp};

on_both_backends!(
    templates_are_created_versioned_listed_and_soft_deleted,
    invalid_templates_are_named_by_field_and_store_nothing,
);

fn shipped() -> Value {
    json!({"name": "order_shipped", "type": "email", "subject": "Order {order_id} shipped",
        "body": "Hi {first_name|there}, order {order_id} is on its way.",
        "html": "<p>Order <b>{order_id}</b></p>",
        "variables": [{"name": "order_id"}, {"name": "first_name", "required": false}], "category": "shipping"})
}

async fn templates_are_created_versioned_listed_and_soft_deleted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, created) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&shipped())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["version"], &created["type"], &created["transactional"]),
        (&json!(1), &json!("email"), &json!(false))
    );
    assert_eq!(
        created["variables"],
        json!([{"name": "order_id", "required": true}, {"name": "first_name", "required": false}])
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_json(&format!("/api/v1/templates/{id}")).await, created);

    // A placeholder the texts use but the template does not declare is declared, optional.
    // A name declared twice counts once, required if either says so.
    let undeclared = json!({"name": "welcome", "type": "push", "subject": "Hi {first_name}", "body": "Welcome to {app}",
        "variables": [{"name": "app", "required": false}, {"name": "app"}]});
    let (status, welcome) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&undeclared)).await;
    assert_eq!(status, 201, "{welcome}");
    assert_eq!(
        welcome["variables"],
        json!([{"name": "app", "required": true}, {"name": "first_name", "required": false}])
    );
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/templates/{}", welcome["id"].as_str().unwrap()),
        None,
    )
    .await;

    // The name is unique among live templates.
    let (status, taken) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&shipped())).await;
    assert_eq!((status, &taken["error"]["code"]), (409, &json!("TEMPLATE_NAME_TAKEN")));

    let otp = json!({"name": "otp", "type": "sms", "body": "Your code is {code}", "variables": [{"name": "code"}], "transactional": true});
    let (status, otp) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&otp)).await;
    assert_eq!(status, 201, "{otp}");

    // A change is the next version.
    let mut changed = shipped();
    changed["subject"] = json!("Your order {order_id} is on its way");
    let (status, v2) =
        app.call(reqwest::Method::PUT, &format!("/api/v1/templates/{id}"), Some(&changed)).await;
    assert_eq!((status, &v2["version"]), (200, &json!(2)), "{v2}");
    assert_eq!(v2["created_at"], created["created_at"]);
    assert_eq!(
        app.get_json(&format!("/api/v1/templates/{id}")).await["subject"],
        "Your order {order_id} is on its way"
    );

    let all = app.get_json("/api/v1/templates").await;
    let names: Vec<&str> =
        all["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["order_shipped", "otp"], "oldest first");
    let sms = app.get_json("/api/v1/templates?type=sms").await;
    assert_eq!(sms["data"].as_array().unwrap().len(), 1);
    let first = app.get_json("/api/v1/templates?limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = app.get_json(&format!("/api/v1/templates?limit=1&cursor={cursor}")).await;
    assert_eq!(second["data"][0]["name"], "otp");
    assert!(second["next_cursor"].is_null(), "{second}");

    let (status, _) = app.call(reqwest::Method::DELETE, &format!("/api/v1/templates/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = app.call(reqwest::Method::GET, &format!("/api/v1/templates/{id}"), None).await;
    assert_eq!((status, &gone["error"]["code"]), (404, &json!("TEMPLATE_NOT_FOUND")));
    assert_eq!(app.call(reqwest::Method::DELETE, &format!("/api/v1/templates/{id}"), None).await.0, 404);
    assert_eq!(
        app.call(reqwest::Method::PUT, &format!("/api/v1/templates/{id}"), Some(&changed)).await.0,
        404
    );
    // Its name is free again.
    assert_eq!(app.call(reqwest::Method::POST, "/api/v1/templates", Some(&shipped())).await.0, 201);
    assert_eq!(app.call(reqwest::Method::GET, "/api/v1/templates/not-a-uuid", None).await.0, 404);
}

async fn invalid_templates_are_named_by_field_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let with = |changes: Value| {
        let mut template = shipped();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                template.as_object_mut().unwrap().remove(key);
            } else {
                template[key] = value.clone();
            }
        }
        template
    };
    let cases = [
        (with(json!({"subject": null})), "subject"),
        (with(json!({"type": "sms", "html": null})), "subject"),
        (with(json!({"type": "sms", "subject": null})), "html"),
        (with(json!({"body": "Hi {order_id"})), "body"),
        (with(json!({"body": "Hi {first name}"})), "body"),
        (with(json!({"subject": "About } this"})), "subject"),
        (with(json!({"html": "<p>{</p>"})), "html"),
        (with(json!({"variables": [{"name": "order id"}]})), "variables"),
        (with(json!({"type": "fax"})), "type"),
        (with(json!({"name": "  "})), "name"),
        (with(json!({"category": "Shipping!"})), "category"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.call(reqwest::Method::POST, "/api/v1/templates", Some(&body)).await;
        assert_eq!((status, &answer["error"]["field"]), (422, &json!(field)), "{body}: {answer}");
    }
    let (status, _) =
        app.call(reqwest::Method::POST, "/api/v1/templates", Some(&with(json!({"colour": "red"})))).await;
    assert_eq!(status, 422, "unknown fields are refused");
    assert_eq!(app.get_json("/api/v1/templates").await["data"], json!([]), "nothing was stored");
}
