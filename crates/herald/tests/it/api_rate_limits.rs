//! Request rate limits per API key (docs/adr/0022-api-rate-limits.md): a 429 with
//! `Retry-After` past a key's limit, and `RateLimit-Policy` / `RateLimit` on every answer to
//! a request with a valid key, on both backends.

use std::time::{Duration, Instant};

use herald::model::RequestRate;
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, poll, Backend, TestApp, API_KEY};

on_both_backends!(
    a_key_limited_to_5_a_second_is_refused_its_sixth_request_while_other_keys_go_on,
    every_answer_to_a_valid_key_has_the_fields_and_public_endpoints_and_bad_keys_have_none,
    with_the_default_off_only_keys_with_a_limit_of_their_own_are_limited,
);

/// One answer's status, rate limit fields and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    policy: Option<String>,
    ratelimit: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Self {
        let field = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (policy, ratelimit, retry_after) =
            (field("RateLimit-Policy"), field("RateLimit"), field("Retry-After"));
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Self { status, policy, ratelimit, retry_after, body }
    }

    fn fields(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        (self.policy.as_deref(), self.ratelimit.as_deref(), self.retry_after.as_deref())
    }
}

async fn events(app: &TestApp, key: &str) -> Answer {
    Answer::of(app.client.get(app.url("/api/v1/events")).header("X-API-Key", key).send().await.unwrap()).await
}

async fn sms(app: &TestApp, key: &str, body: &Value) -> Answer {
    Answer::of(app.client.post(app.url("/sms")).header("X-API-Key", key).json(body).send().await.unwrap())
        .await
}

async fn key_limited_to(app: &TestApp, name: &str, rate: Option<RequestRate>) -> String {
    let account = app.store.ensure_default_account().await.unwrap();
    herald::services::api_keys::create_with_rate_limit(app.store.as_ref(), account, name, rate)
        .await
        .unwrap()
        .secret
}

const FIVE_A_SECOND: &str = r#""default";q=5;w=1"#;

async fn a_key_limited_to_5_a_second_is_refused_its_sixth_request_while_other_keys_go_on(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let five = RequestRate::per_second(5).unwrap();
    // At 5 a second one request's share comes back every 200 ms. Requests sent and answered
    // within 200 ms are decided before any comes back, so their fields are exactly known;
    // a machine too slow for that gets another try with a fresh key.
    let mut attempts = 0;
    let (key, answers) = loop {
        attempts += 1;
        let key = key_limited_to(&app, &format!("limited-{attempts}"), Some(five)).await;
        let started = Instant::now();
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(events(&app, &key).await);
        }
        answers.push(
            sms(&app, &key, &json!({"recipient": 31633450007u64, "originator": "MB", "message": "Hi"})).await,
        );
        if started.elapsed() < Duration::from_millis(200) {
            break (key, answers);
        }
        assert!(attempts < 10, "ten tries of seven requests each took 200 ms or more: {answers:?}");
    };

    for (answer, remaining) in answers.iter().zip([4, 3, 2, 1, 0]) {
        assert_eq!(answer.status, 200, "{answer:?}");
        let ratelimit = format!(r#""default";r={remaining};t=1"#);
        assert_eq!(answer.fields(), (Some(FIVE_A_SECOND), Some(ratelimit.as_str()), None), "{answer:?}");
    }
    let refused = &answers[5];
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.fields(), (Some(FIVE_A_SECOND), Some(r#""default";r=0;t=1"#), Some("1")));
    assert_eq!(refused.body["error"]["code"], "RATE_LIMITED", "{refused:?}");
    // `POST /sms` refuses in the sms-processor's own shape, with the same fields.
    let refused_sms = &answers[6];
    assert_eq!((refused_sms.status, &refused_sms.body["status"]), (429, &json!("error")), "{refused_sms:?}");
    assert_eq!(refused_sms.fields(), refused.fields());

    // Other keys are untouched: one with the same limit, and the test key on the default.
    let other = key_limited_to(&app, "other", Some(five)).await;
    let answer = events(&app, &other).await;
    assert_eq!((answer.status, answer.ratelimit.as_deref()), (200, Some(r#""default";r=4;t=1"#)));
    let answer = events(&app, API_KEY).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.fields(), (Some(r#""default";q=10000;w=1"#), Some(r#""default";r=9999;t=1"#), None));

    // Once a request's share has come back, the limited key is let through again.
    let recovered = poll(Duration::from_secs(10), || async {
        let answer = events(&app, &key).await;
        (answer.status == 200).then_some(answer)
    })
    .await
    .expect("the limited key is let through again");
    assert_eq!(recovered.policy.as_deref(), Some(FIVE_A_SECOND));
}

async fn every_answer_to_a_valid_key_has_the_fields_and_public_endpoints_and_bad_keys_have_none(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let has_fields = |answer: &Answer| {
        answer.policy.as_deref() == Some(r#""default";q=10000;w=1"#)
            && answer.ratelimit.as_deref().is_some_and(|r| r.starts_with(r#""default";r="#))
            && answer.retry_after.is_none()
    };
    let unknown = Answer::of(
        app.client
            .get(app.url("/api/v1/notifications/0190a0f4-0000-7000-8000-000000000000"))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(has_fields(&unknown), "{unknown:?}");
    let invalid = sms(&app, API_KEY, &json!({"recipient": "nobody"})).await;
    assert_eq!(invalid.status, 400);
    assert!(has_fields(&invalid), "{invalid:?}");

    let bad_key = events(&app, "hrld_not-a-key").await;
    assert_eq!(bad_key.status, 401);
    assert_eq!(bad_key.fields(), (None, None, None), "a bad key takes nothing from any limit");
    let no_key = Answer::of(app.client.get(app.url("/api/v1/events")).send().await.unwrap()).await;
    assert_eq!((no_key.status, no_key.fields()), (401, (None, None, None)));
    for path in ["/health", "/health/ready", "/metrics", "/api/v1/openapi.json"] {
        // A key given to a public endpoint is not looked at.
        let response = app.client.get(app.url(path)).header("X-API-Key", API_KEY).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().get("RateLimit").is_none(), "{path}");
    }
}

async fn with_the_default_off_only_keys_with_a_limit_of_their_own_are_limited(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, herald::app::Roles::ALL, |config| {
        config.api.rate_limit.requests_per_second = 0;
    })
    .await
    else {
        return;
    };
    let unlimited = events(&app, API_KEY).await;
    assert_eq!((unlimited.status, unlimited.fields()), (200, (None, None, None)));
    let key = key_limited_to(&app, "own", RequestRate::per_second(3).ok()).await;
    let limited = events(&app, &key).await;
    assert_eq!(limited.status, 200);
    assert_eq!(limited.policy.as_deref(), Some(r#""default";q=3;w=1"#));
}
