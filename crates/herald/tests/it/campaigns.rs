//! Campaigns and customers over HTTP: the campaign brief's paths, shapes and errors.

use std::collections::HashSet;

use serde_json::{json, Value};

use herald::providers::mock::MockAnswer;

use crate::helpers::{on_both_backends, wait_until, Backend, TestApp};

on_both_backends!(
    a_campaign_is_created_as_draft_or_scheduled_and_read_back_with_stats,
    bad_campaigns_get_a_json_error_and_store_nothing,
    pages_follow_a_snapshot_without_duplicates_or_gaps_while_campaigns_are_created,
    list_parameters_are_checked,
    the_preview_renders_the_campaign_or_the_override_template_per_customer,
    customers_are_created_listed_and_checked,
    a_sent_campaign_renders_each_message_sends_it_and_ends_sent,
    a_campaign_whose_messages_all_fail_ends_failed,
    bad_sends_get_a_json_error_and_create_nothing,
    a_send_to_all_customers_names_every_customer_of_the_account,
    a_scheduled_campaign_waits_for_its_time,
    a_scheduled_campaign_goes_to_every_customer_when_its_time_comes,
    a_scheduled_campaign_sent_early_starts_sending_at_its_time,
    herald_seed_adds_samples_once,
    a_csv_import_takes_the_valid_rows_and_reports_the_others,
    a_repeated_send_with_its_idempotency_key_replays_the_first_answer,
    a_customer_delete_and_a_send_never_both_go_ahead,
    a_whatsapp_campaign_is_delivered_by_the_mock_sender,
    the_briefs_example_requests_get_the_briefs_response_shapes,
    a_campaign_scheduled_in_the_past_is_a_draft_the_scheduler_leaves_and_a_send_starts_at_once,
    two_sends_of_one_scheduled_campaign_at_once_start_it_once,
    a_filtered_listing_reaches_its_end_when_campaigns_shown_leave_the_filter,
);

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post_json("/campaigns", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    let response = app.post_json("/api/v1/customers", &body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn a_campaign_is_created_as_draft_or_scheduled_and_read_back_with_stats(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (status, draft) = create(
        &app,
        json!({"name": "Summer Sale 2025", "channel": "sms",
               "base_template": "Hi {first_name}, check out {preferred_product} in {location}!"}),
    )
    .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["scheduled_at"], Value::Null);
    assert!(draft["id"].as_i64().unwrap() > 0);
    assert!(draft["created_at"].is_string());

    let (status, scheduled) = create(
        &app,
        json!({"name": "Later", "channel": "whatsapp", "base_template": "Hi", "scheduled_at": "2099-06-01T10:00:00+03:00"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(scheduled["scheduled_at"], "2099-06-01T07:00:00Z");

    // The brief's detail shape, at both paths.
    for path in [format!("/campaigns/{}", draft["id"]), format!("/api/v1/campaigns/{}", draft["id"])] {
        let detail = app.get_json(&path).await;
        assert_eq!(detail["name"], "Summer Sale 2025");
        assert_eq!(detail["base_template"], draft["base_template"]);
        assert_eq!(detail["stats"], json!({"total": 0, "pending": 0, "sending": 0, "sent": 0, "failed": 0}));
    }
    let missing = app.get("/campaigns/999").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"error": {"code": "CAMPAIGN_NOT_FOUND", "message": "Campaign with ID 999 not found"}})
    );
    assert_eq!(app.get("/campaigns/abc").await.status(), 404);
}

async fn bad_campaigns_get_a_json_error_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let valid = json!({"name": "n", "channel": "sms", "base_template": "Hi {first_name}"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("channel", json!("fax")), 422, "VALIDATION_ERROR", "'fax' is not supported"),
        (with("channel", json!("email")), 422, "VALIDATION_ERROR", "use 'sms' or 'whatsapp'"),
        (with("name", json!("  ")), 422, "VALIDATION_ERROR", "'name'"),
        (
            with("base_template", json!("Hi {nickname}")),
            422,
            "INVALID_TEMPLATE",
            "unknown placeholder '{nickname}'",
        ),
        (with("base_template", json!("Hi {first_name")), 422, "INVALID_TEMPLATE", "not closed"),
        (with("base_template", json!("")), 422, "INVALID_TEMPLATE", "empty"),
        (with("scheduled_at", json!("2020-01-01T00:00:00")), 422, "VALIDATION_ERROR", "time zone"),
        (with("scheduled_at", json!("2099-01-01T00:00:00")), 422, "VALIDATION_ERROR", "time zone"),
        (with("surprise", json!(1)), 422, "VALIDATION_ERROR", "unknown field"),
        (json!({"channel": "sms", "base_template": "x"}), 422, "VALIDATION_ERROR", "name"),
    ];
    for (body, status, code, message) in cases {
        let (got, error) = create(&app, body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let listing = app.get_json("/campaigns").await;
    assert_eq!(listing["pagination"]["total_count"], 0, "nothing was stored");
}

async fn pages_follow_a_snapshot_without_duplicates_or_gaps_while_campaigns_are_created(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for n in 0..45 {
        let channel = if n % 3 == 0 { "whatsapp" } else { "sms" };
        let mut body =
            json!({"name": format!("c{n}"), "channel": channel, "base_template": "Hi {first_name}"});
        if n % 2 == 0 {
            body["scheduled_at"] = json!("2099-01-01T00:00:00Z");
        }
        assert_eq!(create(&app, body).await.0, 201);
    }
    // Unfiltered, 10 a page, following `next` while new campaigns arrive between pages.
    let mut seen = Vec::new();
    let mut next = Some("/campaigns?page_size=10".to_owned());
    let mut pages = 0;
    let mut total = None;
    while let Some(path) = next {
        let page = app.get_json(&path).await;
        pages += 1;
        total.get_or_insert(page["pagination"]["total_count"].as_u64().unwrap());
        assert_eq!(page["pagination"]["total_count"].as_u64(), total, "the snapshot's total stays");
        seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        let body = json!({"name": format!("new {pages}"), "channel": "sms", "base_template": "x"});
        assert_eq!(create(&app, body).await.0, 201);
        next = page["pagination"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 5);
    assert_eq!(total, Some(45));
    assert_eq!(seen.len(), 45, "no gaps");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45, "no duplicates");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, by id: {seen:?}");

    // Plain page numbers with an explicit snapshot give the same pages.
    let snapshot = app.get_json("/campaigns?page_size=10").await["pagination"]["snapshot"].as_i64().unwrap();
    let page_two = app.get_json(&format!("/campaigns?page=2&page_size=10&snapshot={}", seen[0])).await;
    let ids: Vec<i64> =
        page_two["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, seen[10..20]);
    assert!(snapshot > seen[0], "a new listing sees the campaigns created meanwhile");

    // Filters: every row matches, and the counts add up.
    let whatsapp =
        app.get_json(&format!("/campaigns?channel=whatsapp&page_size=100&snapshot={}", seen[0])).await;
    assert_eq!(whatsapp["pagination"]["total_count"], 15);
    assert!(whatsapp["data"].as_array().unwrap().iter().all(|c| c["channel"] == "whatsapp"));
    let scheduled_sms = app
        .get_json(&format!("/campaigns?channel=sms&status=scheduled&page_size=100&snapshot={}", seen[0]))
        .await;
    let rows = scheduled_sms["data"].as_array().unwrap();
    assert!(rows.iter().all(|c| c["channel"] == "sms" && c["status"] == "scheduled"), "{rows:?}");
    assert_eq!(rows.len(), 15);
    assert_eq!(scheduled_sms["pagination"]["total_pages"], 1);
    assert_eq!(scheduled_sms["pagination"]["next"], Value::Null);
    let first = &app.get_json("/campaigns?page_size=1").await["data"][0];
    assert!(first["id"].is_i64() && first["name"].is_string() && first["created_at"].is_string());
}

async fn list_parameters_are_checked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for query in [
        "page_size=0",
        "page_size=101",
        "page=0",
        "page=abc",
        "channel=fax",
        "status=done",
        "snapshot=x",
        "before=1.5",
        "color=red",
    ] {
        let response = app.get(&format!("/campaigns?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{query}: {body}");
    }
    let empty = app.get_json("/campaigns").await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(
        empty["pagination"],
        json!({"page": 1, "page_size": 20, "total_count": 0, "total_pages": 0, "snapshot": 0, "next": null, "prev": null})
    );
}

async fn the_preview_renders_the_campaign_or_the_override_template_per_customer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let alice = customer(
        &app,
        json!({"phone": "+254712345678", "first_name": "Alice", "location": "Nairobi",
               "preferred_product": "Running Shoes", "attributes": {"tier": "gold", "visits": 3}}),
    )
    .await;
    let bob = customer(&app, json!({"phone": "+254712345679", "first_name": "{last_name}"})).await;
    let (_, campaign) = create(
        &app,
        json!({"name": "p", "channel": "sms",
               "base_template": "Hi {first_name|there}, {preferred_product|our new range} in {location|your city}! {attributes.tier|}"}),
    )
    .await;
    let preview = |body: Value| {
        let app = &app;
        let path = format!("/campaigns/{}/personalized-preview", campaign["id"]);
        async move {
            let response = app.post_json(&path, &body).await;
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };

    let (status, for_alice) = preview(json!({"customer_id": alice})).await;
    assert_eq!(status, 200, "{for_alice}");
    assert_eq!(for_alice["rendered_message"], "Hi Alice, Running Shoes in Nairobi! gold");
    assert_eq!(for_alice["used_template"], campaign["base_template"]);
    assert_eq!(for_alice["customer"], json!({"id": alice, "first_name": "Alice"}));
    assert_eq!(for_alice["length"]["encoding"], "GSM-7");
    assert_eq!(for_alice["length"]["segments"], 1);

    // Missing fields take their fallbacks; a value that looks like a placeholder stays text.
    let (_, for_bob) = preview(json!({"customer_id": bob})).await;
    assert_eq!(for_bob["rendered_message"], "Hi {last_name}, our new range in your city! ");

    let (status, overridden) =
        preview(json!({"customer_id": alice, "override_template": "Hi {first_name}, special offer just for you! ({attributes.visits} visits)"}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(overridden["rendered_message"], "Hi Alice, special offer just for you! (3 visits)");
    assert_eq!(
        overridden["used_template"],
        "Hi {first_name}, special offer just for you! ({attributes.visits} visits)"
    );

    let (status, error) = preview(json!({"customer_id": alice, "override_template": "Hi {shoe_size}"})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("INVALID_TEMPLATE")));
    let (status, error) = preview(json!({"customer_id": 999_999})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("CUSTOMER_NOT_FOUND")));
    let (status, _) = preview(json!({"customer_id": "one"})).await;
    assert_eq!(status, 422);
    let response = app.post_json("/campaigns/999/personalized-preview", &json!({"customer_id": alice})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "CAMPAIGN_NOT_FOUND");
}

async fn customers_are_created_listed_and_checked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            customer(&app, json!({"phone": format!("+25471234567{n}"), "first_name": format!("C{n}")})).await,
        );
    }
    let one = app.get_json(&format!("/api/v1/customers/{}", ids[2])).await;
    assert_eq!((one["first_name"].as_str(), one["phone"].as_str()), (Some("C2"), Some("+254712345672")));
    assert_eq!(one["attributes"], json!({}));
    let first = app.get_json("/api/v1/customers?limit=3").await;
    let second = app
        .get_json(&format!("/api/v1/customers?limit=3&cursor={}", first["next_cursor"].as_str().unwrap()))
        .await;
    let listed: Vec<i64> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(second["next_cursor"], Value::Null);

    for (body, expected) in [
        (json!({"phone": "12"}), "'phone'"),
        (json!({"phone": "+254712345678", "email": "nope"}), "'email'"),
        (json!({"phone": "+254712345678", "attributes": {"bad key": 1}}), "attribute name"),
        (json!({"first_name": "x"}), "phone"),
    ] {
        let response = app.post_json("/api/v1/customers", &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(expected), "{body}: {error}");
    }
    assert_eq!(app.get("/api/v1/customers/999").await.status(), 404);

    // Update replaces the fields; delete removes the customer.
    let updated = app
        .client
        .put(app.url(&format!("/api/v1/customers/{}", ids[0])))
        .header("X-API-Key", crate::helpers::API_KEY)
        .json(&json!({"phone": "+254712345699", "first_name": "Renamed", "attributes": {"tier": "gold"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let again = app.get_json(&format!("/api/v1/customers/{}", ids[0])).await;
    assert_eq!(
        (again["first_name"].as_str(), again["phone"].as_str()),
        (Some("Renamed"), Some("+254712345699"))
    );
    assert_eq!(again["attributes"], json!({"tier": "gold"}));
    assert_eq!(delete_customer(&app, ids[1]).await, 204);
    assert_eq!(app.get(&format!("/api/v1/customers/{}", ids[1])).await.status(), 404);
    assert_eq!(delete_customer(&app, ids[1]).await, 404);
    // A customer with a campaign message waiting (scheduled far ahead) cannot be deleted.
    let (_, campaign) = create(
        &app,
        json!({"name": "x", "channel": "sms", "base_template": "Hi", "scheduled_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(send(&app, &campaign, json!({"customer_ids": [ids[2]]})).await.0, 202);
    assert_eq!(delete_customer(&app, ids[2]).await, 409);
}

/// `count` customers with nothing but a phone number, inserted in bulk; their ids.
async fn bulk_customers(app: &TestApp, count: usize) -> Vec<i64> {
    let account = app.store.ensure_default_account().await.unwrap();
    let customers: Vec<herald::model::CustomerFields> = (0..count)
        .map(|n| herald::model::CustomerFields { phone: format!("+2547{n:08}"), ..Default::default() })
        .collect();
    let ids = app.store.insert_customers(account, &customers, chrono::Utc::now()).await.unwrap();
    ids.into_iter().map(i64::from).collect()
}

/// `DELETE /api/v1/customers/{id}`; its status.
async fn delete_customer(app: &TestApp, id: i64) -> u16 {
    let path = app.url(&format!("/api/v1/customers/{id}"));
    let response = app.client.delete(path).header("X-API-Key", crate::helpers::API_KEY).send().await.unwrap();
    response.status().as_u16()
}

async fn send(app: &TestApp, campaign: &Value, body: Value) -> (u16, Value) {
    let response = app.post_json(&format!("/campaigns/{}/send", campaign["id"]), &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn wait_for_campaign_status(app: &TestApp, campaign: &Value, status: &str) -> Value {
    let path = format!("/campaigns/{}", campaign["id"]);
    let reached = wait_until(std::time::Duration::from_secs(30), || async {
        app.get_json(&path).await["status"] == status
    })
    .await;
    let detail = app.get_json(&path).await;
    assert!(reached, "campaign never became {status}: {detail}");
    detail
}

async fn a_sent_campaign_renders_each_message_sends_it_and_ends_sent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let alice = customer(
        &app,
        json!({"phone": "+254712345671", "first_name": "Alice", "preferred_product": "Shoes"}),
    )
    .await;
    let bob = customer(&app, json!({"phone": "+254712345672"})).await;
    let carol = customer(
        &app,
        json!({"phone": "+254712345673", "first_name": "Carol", "preferred_product": "{first_name}"}),
    )
    .await;
    let (_, campaign) = create(
        &app,
        json!({"name": "s", "channel": "sms", "base_template": "Hi {first_name|there}, see {preferred_product|our range}"}),
    )
    .await;
    let (status, queued) = send(&app, &campaign, json!({"customer_ids": [alice, bob, carol, alice]})).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued, json!({"campaign_id": campaign["id"], "messages_queued": 3, "status": "sending"}));

    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"], json!({"total": 3, "pending": 0, "sending": 0, "sent": 3, "failed": 0}));
    let mut bodies: Vec<(String, String)> =
        app.mock.deliveries().into_iter().map(|d| (d.to, d.body)).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            ("+254712345671".to_owned(), "Hi Alice, see Shoes".to_owned()),
            ("+254712345672".to_owned(), "Hi there, see our range".to_owned()),
            ("+254712345673".to_owned(), "Hi Carol, see {first_name}".to_owned()),
        ],
        "rendered per customer, literally, once each"
    );
    let (status, error) = send(&app, &campaign, json!({"customer_ids": [alice]})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("CAMPAIGN_NOT_SENDABLE")), "{error}");
    assert_eq!(app.mock.calls(), 3);
}

async fn a_campaign_whose_messages_all_fail_ends_failed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "A"})).await;
    let b = customer(&app, json!({"phone": "+254712345672", "first_name": "B"})).await;
    app.mock.push_script([
        MockAnswer::Permanent("invalid number".into()),
        MockAnswer::Permanent("invalid number".into()),
    ]);
    let (_, campaign) =
        create(&app, json!({"name": "f", "channel": "sms", "base_template": "Hi {first_name}"})).await;
    assert_eq!(send(&app, &campaign, json!({"customer_ids": [a, b]})).await.0, 202);
    let detail = wait_for_campaign_status(&app, &campaign, "failed").await;
    assert_eq!(detail["stats"]["failed"], 2);
    assert_eq!(detail["stats"]["sent"], 0);
}

async fn a_send_to_all_customers_names_every_customer_of_the_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (_, campaign) =
        create(&app, json!({"name": "all", "channel": "sms", "base_template": "Hi {first_name|there}"}))
            .await;
    let (status, error) = send(&app, &campaign, json!({"all_customers": true})).await;
    assert_eq!(status, 422, "no customers yet: {error}");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("'all_customers'"), "{error}");
    for phone in ["+254712345681", "+254712345682", "+254712345683"] {
        customer(&app, json!({"phone": phone})).await;
    }
    let (status, queued) = send(&app, &campaign, json!({"all_customers": true, "customer_ids": null})).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["messages_queued"], 3, "{queued}");
    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"]["sent"], 3, "{detail}");
    let mut sent: Vec<String> = app.mock.deliveries().into_iter().map(|d| d.to).collect();
    sent.sort();
    assert_eq!(sent, ["+254712345681", "+254712345682", "+254712345683"]);
    app.stop().await;
}

async fn bad_sends_get_a_json_error_and_create_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let known = customer(&app, json!({"phone": "+254712345671"})).await;
    let (_, campaign) = create(&app, json!({"name": "b", "channel": "sms", "base_template": "Hi"})).await;
    let too_many: Vec<i64> = (1..=100_001).collect();
    for (body, status, code) in [
        (json!({"customer_ids": []}), 422, "VALIDATION_ERROR"),
        (json!({"customer_ids": too_many}), 422, "VALIDATION_ERROR"),
        (json!({"customer_ids": [known, "x"]}), 422, "VALIDATION_ERROR"),
        (json!({"customer_ids": [known, -1]}), 422, "VALIDATION_ERROR"),
        (json!({"customer_ids": [known, 424242, 434343]}), 422, "UNKNOWN_CUSTOMERS"),
        (json!({}), 422, "VALIDATION_ERROR"),
        (json!({"all_customers": false}), 422, "VALIDATION_ERROR"),
        (json!({"customer_ids": [known], "all_customers": true}), 422, "VALIDATION_ERROR"),
        (json!({"all_customers": "yes"}), 422, "VALIDATION_ERROR"),
    ] {
        let (got, error) = send(&app, &campaign, body.clone()).await;
        assert_eq!((got, error["error"]["code"].as_str()), (status, Some(code)), "{error}");
    }
    let (_, error) = send(&app, &campaign, json!({"customer_ids": [known, 424242]})).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("424242"), "{error}");
    let detail = app.get_json(&format!("/campaigns/{}", campaign["id"])).await;
    assert_eq!(
        (detail["status"].as_str(), detail["stats"]["total"].as_u64()),
        (Some("draft"), Some(0)),
        "nothing created"
    );
    let response = app.post_json("/campaigns/999/send", &json!({"customer_ids": [known]})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "CAMPAIGN_NOT_FOUND");
}

async fn a_scheduled_campaign_waits_for_its_time(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "A"})).await;
    let (_, campaign) = create(
        &app,
        json!({"name": "later", "channel": "sms", "base_template": "Hi {first_name}", "scheduled_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let (status, queued) = send(&app, &campaign, json!({"customer_ids": [a]})).await;
    assert_eq!(status, 202);
    assert_eq!(queued["status"], "scheduled");
    let detail = app.get_json(&format!("/campaigns/{}", campaign["id"])).await;
    assert_eq!(
        (detail["status"].as_str(), detail["stats"]["pending"].as_u64()),
        (Some("scheduled"), Some(1))
    );
    assert!(
        !wait_until(std::time::Duration::from_millis(300), || async { app.mock.calls() > 0 }).await,
        "nothing sent early"
    );
    let (status, _) = send(&app, &campaign, json!({"customer_ids": [a]})).await;
    assert_eq!(status, 409, "a scheduled campaign with its messages is not sent twice");
}

/// A time a little in the future, in RFC 3339: creation accepts it, and it passes soon.
fn soon() -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339()
}

async fn a_scheduled_campaign_goes_to_every_customer_when_its_time_comes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for n in 0..3 {
        customer(&app, json!({"phone": format!("+25471234567{n}"), "first_name": format!("C{n}")})).await;
    }
    let (status, campaign) = create(
        &app,
        json!({"name": "auto", "channel": "sms", "base_template": "Hi {first_name}", "scheduled_at": soon()}),
    )
    .await;
    assert_eq!((status, campaign["status"].as_str()), (201, Some("scheduled")));
    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"]["sent"], 3);
    let mut bodies: Vec<String> = app.mock.deliveries().into_iter().map(|d| d.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["Hi C0", "Hi C1", "Hi C2"]);
}

async fn a_scheduled_campaign_sent_early_starts_sending_at_its_time(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "A"})).await;
    customer(&app, json!({"phone": "+254712345672", "first_name": "not chosen"})).await;
    let (_, campaign) =
        create(&app, json!({"name": "early", "channel": "sms", "base_template": "Hi {first_name}", "scheduled_at": soon()})).await;
    assert_eq!(send(&app, &campaign, json!({"customer_ids": [a]})).await.1["status"], "scheduled");
    wait_for_campaign_status(&app, &campaign, "sent").await;
    let bodies: Vec<String> = app.mock.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(bodies, ["Hi A"], "only the chosen customer, once");
}

/// Two worker processes' schedulers on one PostgreSQL database start a campaign once.
#[crate::harness::test(postgres)]
async fn two_schedulers_start_a_campaign_exactly_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    for n in 0..20 {
        customer(&app, json!({"phone": format!("+2547123456{n:02}")})).await;
    }
    let other = TestApp::spawn_on(&app.database_url, herald::app::Roles::WORKER, |_| {}).await;
    let (_, campaign) = create(
        &app,
        json!({"name": "once", "channel": "sms", "base_template": "Hello", "scheduled_at": soon()}),
    )
    .await;
    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"]["total"], 20, "one message per customer, not two");
    assert_eq!(app.mock.calls() + other.mock.calls(), 20);
}

/// A campaign whose insert commits after a listing took its snapshot (its id is below the
/// snapshot: ids are handed out before commit) never pushes a campaign already seen onto
/// the next page again, because `next` continues below the last id shown.
#[crate::harness::test(postgres)]
async fn a_campaign_committed_late_inside_the_snapshot_causes_no_duplicate() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let campaign = |name: String| create_draft(&app, name);
    for n in 1..=5 {
        campaign(format!("c{n}")).await;
    }
    // Another client's insert takes id 6 and stays uncommitted while 7 and 8 are created.
    let other = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut late = other.begin().await.unwrap();
    let late_id: i64 = sqlx::query_scalar(
        "INSERT INTO campaigns (account_id, name, channel, status, base_template, created_at, updated_at)
         SELECT id, 'late', 'sms', 'draft', 'Hi', now(), now() FROM accounts WHERE is_default
         RETURNING id",
    )
    .fetch_one(&mut *late)
    .await
    .unwrap();
    let (seven, eight) = (campaign("c7".into()).await, campaign("c8".into()).await);
    assert_eq!((late_id, seven, eight), (6, 7, 8));

    let first = app.get_json("/campaigns?page_size=3").await;
    let mut seen: Vec<i64> =
        first["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(seen, [8, 7, 5], "6 is not committed yet");
    late.commit().await.unwrap();
    let mut next = first["pagination"]["next"].as_str().map(str::to_owned);
    while let Some(path) = next {
        let page = app.get_json(&path).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        next = page["pagination"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len(), "no duplicates: {seen:?}");
    for id in [8, 7, 5, 4, 3, 2, 1] {
        assert!(seen.contains(&id), "no gaps: {id} missing from {seen:?}");
    }
}

async fn create_draft(app: &TestApp, name: String) -> i64 {
    let (status, campaign) =
        create(app, json!({"name": name, "channel": "sms", "base_template": "Hi"})).await;
    assert_eq!(status, 201, "{campaign}");
    campaign["id"].as_i64().unwrap()
}

/// Following `next` under a status filter reaches every campaign of the snapshot even when
/// the ones already shown change status meanwhile (the count shrinks; what is left below
/// the page does not).
async fn a_filtered_listing_reaches_its_end_when_campaigns_shown_leave_the_filter(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let someone = customer(&app, json!({"phone": "+254712345671"})).await;
    let mut drafts = Vec::new();
    for n in 1..=5 {
        drafts.push(create_draft(&app, format!("d{n}")).await);
    }
    let first = app.get_json("/campaigns?status=draft&page_size=2").await;
    let mut seen: Vec<i64> =
        first["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(seen, [drafts[4], drafts[3]]);
    for id in &seen {
        let (status, _) = send(&app, &json!({"id": id}), json!({"customer_ids": [someone]})).await;
        assert_eq!(status, 202);
    }
    let mut next = first["pagination"]["next"].as_str().map(str::to_owned);
    while let Some(path) = next {
        let page = app.get_json(&path).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        next = page["pagination"]["next"].as_str().map(str::to_owned);
    }
    drafts.reverse();
    assert_eq!(seen, drafts, "every draft of the snapshot, newest first, once");
}

/// `herald seed` adds sample data once, on either backend.
async fn herald_seed_adds_samples_once(backend: Backend) {
    let Some(db) = crate::helpers::TestDb::create(backend).await else { return };
    let seed = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("seed")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HERALD_DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(seed().contains("seeded 12 customers and 3 campaigns"));
    assert!(seed().contains("already seeded"));

    let store = herald::store::connect(&db.url).await.unwrap();
    let account = store.ensure_default_account().await.unwrap();
    assert_eq!(
        store.list_customers(account, herald_domain::CustomerId::new(0), 100).await.unwrap().len(),
        12
    );
    let page = store
        .list_campaigns(account, Default::default(), None, herald::model::PageStart::Offset(0), 100)
        .await
        .unwrap();
    let mut statuses: Vec<&str> = page.campaigns.iter().map(|c| c.status.as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["draft", "scheduled", "sending"]);
    assert_eq!(store.status_counts().await.unwrap().pending, 12, "the started sample waits for a worker");
}

async fn a_csv_import_takes_the_valid_rows_and_reports_the_others(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let csv = "phone,first_name,Loyalty Tier,preferred_product\n\
               +254712345671,Alice,gold,Shoes\n\
               12,Bob,silver,Hats\n\
               +254712345673,,bronze,\n\
               +254712345674,Dan\n\
               +254712345675,Eve,,Lamps\n";
    let import = |body: &'static str, content_type: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/api/v1/customers/import"))
                .header("X-API-Key", crate::helpers::API_KEY)
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, report) = import(csv, "text/csv").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["imported"].as_u64(), report["rejected"].as_u64()), (Some(3), Some(2)), "{report}");
    let lines: Vec<u64> =
        report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 5], "{report}");
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("'phone'"), "{report}");
    let first = app.get_json(&format!("/api/v1/customers/{}", report["ids"][0])).await;
    assert_eq!(first["first_name"], "Alice");
    assert_eq!(first["attributes"], json!({"loyalty_tier": "gold"}));
    let third = app.get_json(&format!("/api/v1/customers/{}", report["ids"][1])).await;
    assert_eq!((third["first_name"].clone(), third["preferred_product"].clone()), (Value::Null, Value::Null));

    assert_eq!(import("first_name\nAlice\n", "text/csv").await.0, 422, "no phone column");
    assert_eq!(import(csv, "application/json").await.0, 415);
}

async fn send_keyed(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("X-API-Key", crate::helpers::API_KEY)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn a_repeated_send_with_its_idempotency_key_replays_the_first_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "A"})).await;
    let b = customer(&app, json!({"phone": "+254712345672", "first_name": "B"})).await;
    let (_, campaign) = create(
        &app,
        json!({"name": "k", "channel": "sms", "base_template": "Hi {first_name}", "scheduled_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let id = campaign["id"].as_i64().unwrap();
    let path = format!("/campaigns/{id}/send");

    // A failed attempt stores no answer: the same key works once the request is fixed.
    let unknown = send_keyed(&app, &path, "send-1", json!({"customer_ids": [a, 999_999]})).await;
    assert_eq!(unknown.status(), 422);
    let first = send_keyed(&app, &path, "send-1", json!({"customer_ids": [a, b]})).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(first, json!({"campaign_id": id, "messages_queued": 2, "status": "scheduled"}));

    // The same request again, also under /api/v1: the first answer.
    for path in [path.clone(), format!("/api/v1/campaigns/{id}/send")] {
        let again = send_keyed(&app, &path, "send-1", json!({"customer_ids": [a, b]})).await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
    }
    // The key with another request is refused; another key is an ordinary second send.
    let other = send_keyed(&app, &path, "send-1", json!({"customer_ids": [a]})).await;
    assert_eq!(other.status(), 422);
    assert_eq!(other.json::<Value>().await.unwrap()["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    let second = send_keyed(&app, &path, "send-2", json!({"customer_ids": [a, b]})).await;
    assert_eq!(second.status(), 409);
    assert_eq!(second.json::<Value>().await.unwrap()["error"]["code"], "CAMPAIGN_NOT_SENDABLE");

    let detail = app.get_json(&format!("/campaigns/{id}")).await;
    assert_eq!(detail["stats"]["total"], 2, "one message per customer, whatever was repeated: {detail}");
}

/// A customer deleted before a send is an unknown id to it; a delete that comes while a send
/// naming the customer is being committed waits for it, then finds the message and refuses.
/// (The second order is orchestrated on PostgreSQL, where a send in progress can be watched
/// in `pg_stat_activity`; SQLite runs one writer at a time.)
async fn a_customer_delete_and_a_send_never_both_go_ahead(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let mut recipients = bulk_customers(&app, 50_000).await;
    let campaign = |name: &str| {
        create(
            &app,
            json!({"name": name, "channel": "sms", "base_template": "Hi", "scheduled_at": "2099-01-01T00:00:00Z"}),
        )
    };

    // Delete first: the send names an unknown customer and creates nothing.
    let gone = customer(&app, json!({"phone": "+254799999998"})).await;
    assert_eq!(delete_customer(&app, gone).await, 204);
    let (_, first) = campaign("after a delete").await;
    let (status, error) = send(&app, &first, json!({"customer_ids": [recipients[0], gone]})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("UNKNOWN_CUSTOMERS")), "{error}");

    if backend != Backend::Postgres {
        return;
    }
    let watcher = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let inserting = || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                            WHERE datname = current_database() AND state = 'active'
                              AND query LIKE 'INSERT INTO messages%')",
        )
        .fetch_one(&watcher)
        .await
        .unwrap()
    };
    let mut overlapped = 0;
    for round in 0..5 {
        let target = customer(&app, json!({"phone": "+254799999999"})).await;
        recipients.push(target);
        let (_, campaign) = campaign(&format!("during a send {round}")).await;
        let body = json!({ "customer_ids": recipients });
        recipients.pop();
        let sending = tokio::spawn({
            let (path, client, url) =
                (format!("/campaigns/{}/send", campaign["id"]), app.client.clone(), app.url(""));
            async move {
                let response = client
                    .post(format!("{url}{path}"))
                    .header("X-API-Key", crate::helpers::API_KEY)
                    .json(&body);
                response.send().await.unwrap().status().as_u16()
            }
        });
        // Delete while the send's insert runs (or, if that was missed, after the send).
        let caught = crate::helpers::poll(std::time::Duration::from_secs(30), || async {
            if inserting().await {
                Some(true)
            } else {
                sending.is_finished().then_some(false)
            }
        })
        .await
        .expect("the send neither ran nor finished");
        let deleted = delete_customer(&app, target).await;
        assert_eq!(
            (sending.await.unwrap(), deleted),
            (202, 409),
            "round {round}: the delete must wait and refuse"
        );
        overlapped += usize::from(caught);
        if overlapped >= 2 {
            break;
        }
    }
    assert!(overlapped >= 1, "no delete ever came while a send was inserting");
}

async fn a_whatsapp_campaign_is_delivered_by_the_mock_sender(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "Amina"})).await;
    let (_, campaign) =
        create(&app, json!({"name": "w", "channel": "whatsapp", "base_template": "Habari {first_name}"}))
            .await;
    assert_eq!(send(&app, &campaign, json!({"customer_ids": [a]})).await.0, 202);
    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"]["sent"], 1, "{detail}");
    let delivered: Vec<String> = app.mock.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(delivered, ["Habari Amina"]);
    let types: Vec<Value> = app.all_events().await.iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, [json!("notification.sent")], "not sms.sent: it was no SMS");
}

/// Every key of `expected` is in `actual` with a value of the same JSON type (arrays: their
/// first items); herald may add fields of its own.
fn assert_shape(actual: &Value, expected: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let got = got.get(key).unwrap_or_else(|| panic!("{at}.{key} is missing in {actual}"));
                assert_shape(got, value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if let (Some(want), Some(got)) = (want.first(), got.first()) {
                assert_shape(got, want, &format!("{at}[0]"));
            }
        }
        // The brief's `null` stands for "a value or null".
        (Value::Null, _) => {}
        (want, got) => assert_eq!(
            std::mem::discriminant(want),
            std::mem::discriminant(got),
            "{at}: expected a value like {want}, got {got}"
        ),
    }
}

async fn the_briefs_example_requests_get_the_briefs_response_shapes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    // Customers 1..=123 on a fresh database; the brief previews for customer 123, Alice.
    let account = app.store.ensure_default_account().await.unwrap();
    let customers: Vec<herald::model::CustomerFields> = (1..=123)
        .map(|n| herald::model::CustomerFields {
            phone: format!("+2547123{n:05}"),
            first_name: Some(if n == 123 { "Alice".to_owned() } else { format!("Customer {n}") }),
            preferred_product: Some("Running Shoes".to_owned()),
            location: Some("Nairobi".to_owned()),
            ..Default::default()
        })
        .collect();
    let ids = app.store.insert_customers(account, &customers, chrono::Utc::now()).await.unwrap();
    assert_eq!((ids[0].get(), ids[122].get()), (1, 123));

    // 1. Create, as pasted. The brief's own `scheduled_at` (2025-06-01) has passed: the
    // campaign is a draft, ready to send now, and keeps it; a future one is scheduled.
    let example = json!({
        "name": "Summer Sale 2025",
        "channel": "sms",
        "base_template": "Hi {first_name}, check out {preferred_product} in {location}!",
        "scheduled_at": "2025-06-01T10:00:00Z"
    });
    let (status, created) = create(&app, example.clone()).await;
    assert_eq!(status, 201, "{created}");
    let campaign_shape = json!({"id": 1, "name": "Summer Sale 2025", "channel": "sms", "status": "draft",
                                "base_template": "", "scheduled_at": null, "created_at": ""});
    assert_shape(&created, &campaign_shape, "create");
    assert_eq!((created["id"].as_i64(), created["status"].as_str()), (Some(1), Some("draft")));
    assert_eq!(created["scheduled_at"], "2025-06-01T10:00:00Z");
    let mut later = example.clone();
    later["scheduled_at"] = json!("2099-06-01T10:00:00Z");
    let (status, scheduled) = create(&app, later).await;
    assert_eq!((status, scheduled["status"].as_str()), (201, Some("scheduled")), "{scheduled}");

    // 2. Send.
    let (status, queued) = send(&app, &created, json!({"customer_ids": [1, 2, 3]})).await;
    assert_eq!(status, 202);
    assert_eq!(queued, json!({"campaign_id": 1, "messages_queued": 3, "status": "sending"}));

    // 3. List.
    let listing = app.get_json("/campaigns").await;
    assert_shape(
        &listing,
        &json!({"data": [{"id": 1, "name": "", "channel": "sms", "status": "sent", "created_at": ""}],
                "pagination": {"page": 1, "page_size": 20, "total_count": 57, "total_pages": 3}}),
        "list",
    );
    assert_eq!(
        (
            &listing["pagination"]["page"],
            &listing["pagination"]["page_size"],
            &listing["pagination"]["total_count"]
        ),
        (&json!(1), &json!(20), &json!(2))
    );

    // 4. Details, with stats.
    let detail = app.get_json("/campaigns/1").await;
    let mut detail_shape = campaign_shape.clone();
    detail_shape["stats"] = json!({"total": 100, "pending": 45, "sending": 10, "sent": 40, "failed": 5});
    assert_shape(&detail, &detail_shape, "detail");
    assert_eq!(detail["stats"]["total"], 3);

    // 5. Personalized preview.
    let response = app
        .post_json(
            "/campaigns/1/personalized-preview",
            &json!({"customer_id": 123, "override_template": "Hi {first_name}, special offer just for you!"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let preview: Value = response.json().await.unwrap();
    assert_eq!(preview["rendered_message"], "Hi Alice, special offer just for you!");
    assert_eq!(preview["used_template"], "Hi {first_name}, special offer just for you!");
    assert_eq!(preview["customer"], json!({"id": 123, "first_name": "Alice"}));

    // The error format.
    let missing = app.get("/campaigns/999").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"error": {"code": "CAMPAIGN_NOT_FOUND", "message": "Campaign with ID 999 not found"}})
    );
}

async fn a_campaign_scheduled_in_the_past_is_a_draft_the_scheduler_leaves_and_a_send_starts_at_once(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = customer(&app, json!({"phone": "+254712345671", "first_name": "Amina"})).await;
    customer(&app, json!({"phone": "+254712345672", "first_name": "not chosen"})).await;
    let past = "2025-06-01T13:00:00+03:00";
    let (status, campaign) = create(
        &app,
        json!({"name": "late", "channel": "sms", "base_template": "Hi {first_name}", "scheduled_at": past}),
    )
    .await;
    assert_eq!(status, 201, "{campaign}");
    assert_eq!(campaign["status"], "draft");
    assert_eq!(campaign["scheduled_at"], "2025-06-01T10:00:00Z", "kept as given, in UTC");
    let id = campaign["id"].as_i64().unwrap();

    // The scheduler starts `scheduled` campaigns only: a round finds nothing due, and the
    // draft is not sent to every customer.
    let scheduler = herald::dispatch::scheduler::Scheduler {
        store: app.store.clone(),
        sender: "herald".to_owned(),
        every: std::time::Duration::from_secs(1),
        wake: std::sync::Arc::new(tokio::sync::Notify::new()),
    };
    assert_eq!(scheduler.round().await.unwrap(), 0);
    let due = app.store.due_campaigns(chrono::Utc::now(), 50).await.unwrap();
    assert!(due.iter().all(|(due_id, _, _)| due_id.get() != id), "{due:?}");
    let detail = app.get_json(&format!("/campaigns/{id}")).await;
    assert_eq!((detail["status"].as_str(), detail["stats"]["total"].as_u64()), (Some("draft"), Some(0)));

    let (status, queued) = send(&app, &campaign, json!({"customer_ids": [a]})).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "sending", "due now, not at a passed time");
    let detail = wait_for_campaign_status(&app, &campaign, "sent").await;
    assert_eq!(detail["stats"]["sent"], 1);
    assert_eq!(detail["scheduled_at"], "2025-06-01T10:00:00Z");
    let bodies: Vec<String> = app.mock.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(bodies, ["Hi Amina"], "only the chosen customer");
}

async fn two_sends_of_one_scheduled_campaign_at_once_start_it_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ids = bulk_customers(&app, 2_000).await;
    let body = json!({ "customer_ids": ids });
    for round in 0..5 {
        // Scheduled ahead: a started campaign stays `scheduled`, so its status alone does
        // not stop a second start; its messages must.
        let (_, campaign) = create(
            &app,
            json!({"name": format!("twice {round}"), "channel": "sms", "base_template": "Hi",
                   "scheduled_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
        let (first, second) =
            tokio::join!(send(&app, &campaign, body.clone()), send(&app, &campaign, body.clone()));
        let mut statuses = [first.0, second.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [202, 409], "round {round}: {} / {}", first.1, second.1);
        let detail = app.get_json(&format!("/campaigns/{}", campaign["id"])).await;
        assert_eq!(detail["stats"]["total"], ids.len(), "round {round}: one message per customer");
    }
}
