//! `/api/v1/users/{user_id}`: the contact directory, on both backends.

use serde_json::{json, Value};

use crate::helpers::{on_both_backends, Backend, TestApp};

on_both_backends!(
    a_user_is_created_replaced_read_and_deleted_by_the_callers_id,
    invalid_user_fields_are_named_and_store_nothing,
);

async fn put(app: &TestApp, id: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .put(app.url(&format!("/api/v1/users/{id}")))
        .header("X-API-Key", crate::helpers::API_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete(app: &TestApp, id: &str) -> u16 {
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/users/{id}")))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn a_user_is_created_replaced_read_and_deleted_by_the_callers_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let amina = json!({"email": "amina@example.com", "phone": "0712 345 678", "push_tokens": ["tok-1", "tok-2", "tok-1"],
        "locale": "sw-KE", "time_zone": "Africa/Nairobi"});
    // A national number has no country: refused. In international form it is stored as E.164.
    let (status, body) = put(&app, "12345", &amina).await;
    assert_eq!((status, &body["error"]["field"]), (422, &json!("phone")), "{body}");
    let amina = json!({"email": "amina@example.com", "phone": "+254 712 345 678", "push_tokens": ["tok-1", "tok-2", "tok-1"],
        "locale": "sw-KE", "time_zone": "Africa/Nairobi"});
    let (status, created) = put(&app, "12345", &amina).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["user_id"], "12345");
    assert_eq!(created["phone"], "+254712345678");
    assert_eq!(created["push_tokens"], json!(["tok-1", "tok-2"]), "repeats count once");
    assert_eq!((&created["locale"], &created["time_zone"]), (&json!("sw-KE"), &json!("Africa/Nairobi")));

    let read = app.get_json("/api/v1/users/12345").await;
    assert_eq!(read, created);

    // A PUT replaces every field: what is not given is cleared.
    let (status, replaced) = put(&app, "12345", &json!({"email": "amina@work.example"})).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["email"], "amina@work.example");
    assert!(replaced["phone"].is_null() && replaced["push_tokens"] == json!([]), "{replaced}");
    assert_eq!(replaced["created_at"], created["created_at"]);

    // Ids are the caller's, as they are: another id is another user.
    let (status, _) = put(&app, "usr_8f2a", &json!({"phone": "+31612345678"})).await;
    assert_eq!(status, 201);

    assert_eq!(delete(&app, "12345").await, 204);
    let gone = app
        .client
        .get(app.url("/api/v1/users/12345"))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.json::<Value>().await.unwrap()["error"]["code"], "USER_NOT_FOUND");
    assert_eq!(delete(&app, "12345").await, 404, "deleting twice");
    assert_eq!(delete(&app, "never-seen").await, 404);
    // A deleted user can be created again.
    let (status, again) = put(&app, "12345", &amina).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(app.get_json("/api/v1/users/usr_8f2a").await["phone"], "+31612345678");
}

async fn invalid_user_fields_are_named_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (json!({"email": "not an address"}), "email"),
        (json!({"phone": ""}), "phone"),
        (json!({"phone": "+999"}), "phone"),
        (json!({"locale": "english"}), "locale"),
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time_zone"),
        (json!({"push_tokens": ["has space"]}), "push_tokens"),
        (json!({"push_tokens": (0..21).map(|n| format!("t{n}")).collect::<Vec<_>>()}), "push_tokens"),
    ];
    for (body, field) in cases {
        let (status, answer) = put(&app, "u-1", &body).await;
        assert_eq!(
            (status, &answer["error"]["code"], &answer["error"]["field"]),
            (422, &json!("VALIDATION_ERROR"), &json!(field)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = put(&app, "u-1", &json!({"nickname": "A"})).await;
    assert_eq!(status, 422, "unknown fields are refused: {answer}");
    // An id that is not one path segment's worth of visible ASCII.
    let (status, answer) = put(&app, "caf%C3%A9", &json!({})).await;
    assert_eq!((status, &answer["error"]["field"]), (422, &json!("user_id")), "{answer}");
    let (status, _) = put(&app, &"x".repeat(129), &json!({})).await;
    assert_eq!(status, 422);
    let missing = app
        .client
        .get(app.url("/api/v1/users/u-1"))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404, "nothing was stored");
}
