//! The OpenAPI document: what every operation shares (info, tags, security schemes,
//! shared answers), completed by the operations the router registers (`api::routes`).

use utoipa::{
    openapi::{
        path::{Operation, ParameterIn},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
        AllOfBuilder, ContentBuilder, Ref, RefOr, ResponseBuilder,
    },
    Modify, OpenApi,
};

use super::{campaigns, dead_letters, error, schema};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "herald",
        description = "Reliable SMS and notification dispatch. Every endpoint except health, \
                       metrics, docs, sign-in and providers' webhooks needs an API key, as `X-API-Key` or \
                       `Authorization: Bearer`, or the dashboard's session cookie (`herald_session`, from \
                       `POST /api/v1/session`); a request made with the cookie that changes state must carry \
                       the session's CSRF token in `X-CSRF-Token`."
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "sms-processor", description = "The sms-processor compatible endpoint"),
        (name = "notifications", description = "Send notifications and follow them"),
        (name = "overview", description = "What an account's notifications did lately, the queue, dead letters and the providers' breakers (the dashboard's first page)"),
        (name = "events", description = "The event feed (transactional outbox)"),
        (name = "dead-letters", description = "Failed messages and their replay"),
        (name = "campaigns", description = "Campaigns (the campaign brief's paths; also under /api/v1/campaigns)"),
        (name = "customers", description = "The people campaigns are sent to"),
        (name = "templates", description = "Notification templates: typed by channel, with declared variables, versioned"),
        (name = "users", description = "The contact directory notifications are sent by: the caller's users, keyed by its own user id"),
        (name = "preferences", description = "What each user wants to receive, and when: channels, category opt-outs, quiet hours"),
        (name = "session", description = "The dashboard's sign-in: an API key exchanged for a session cookie"),
        (name = "api-keys", description = "The account's API keys: create (shown once), list, revoke"),
        (name = "health", description = "Probes"),
        (name = "webhooks", description = "Delivery receipts from providers (authenticated by the provider's signature or webhook token, not an API key)"),
    )
)]
pub struct ApiDoc;

/// The document as served at `/api/v1/openapi.json`, built from the routes.
pub fn document() -> serde_json::Value {
    served(super::routes().into_openapi())
}

/// The document as served, from the one the routes built: the rules every operation
/// shares are added once all operations are in.
///
/// utoipa 5 writes a link's fields in snake case (`operation_id`), which OpenAPI does not
/// know, so a link would name no operation; they are renamed here.
pub fn served(mut openapi: utoipa::openapi::OpenApi) -> serde_json::Value {
    SharedRules.modify(&mut openapi);
    let mut document = serde_json::to_value(openapi).unwrap_or_default();
    let operations = document.get_mut("paths").and_then(serde_json::Value::as_object_mut);
    for operation in operations
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
    {
        let responses = operation.get_mut("responses").and_then(serde_json::Value::as_object_mut);
        for response in responses.into_iter().flat_map(|r| r.values_mut()) {
            let links = response.get_mut("links").and_then(serde_json::Value::as_object_mut);
            for link in links.into_iter().flat_map(|l| l.values_mut()).filter_map(|l| l.as_object_mut()) {
                for (from, to) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(from) {
                        link.insert(to.to_owned(), value);
                    }
                }
            }
        }
    }
    document
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "The dashboard's session (POST /api/v1/session); requests that change state \
                 also need X-CSRF-Token",
            ))),
        );
    }
}

/// What every operation of a kind shares, stated once: the answers the extractors and the
/// router give before a handler runs (401 from authentication, 429 and the rate limit's header
/// fields, 400/413/415 from reading a JSON body, 500 and 503 when the database is
/// unavailable), the `Idempotency-Key` rule, and the cross-field rule of a bulk replay.
struct SharedRules;

impl Modify for SharedRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            // `POST /sms` answers errors in the sms-processor shape.
            let error = if path == "/sms" { "SmsResponse" } else { "ErrorBody" };
            let operations = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (operation, changes_state) in operations {
                let Some(operation) = operation else { continue };
                add_session_auth(operation, changes_state, error);
                add_shared_responses(operation, error);
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in == ParameterIn::Header && parameter.name == "Idempotency-Key" {
                        parameter.schema = Some(schema::idempotency_header().into());
                        parameter.description = Some(
                            "Makes retries safe: the same key and request get the first response again \
                             (kept idempotency.retention_hours, 24 by default); another request with the \
                             same key is a 422, one while the first still runs a 409. 1 to 255 visible \
                             ASCII characters or spaces, not starting or ending with a space."
                                .into(),
                        );
                    }
                }
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            for (name, rule) in
                [("ReplayIn", dead_letters::replay_in_rule()), ("SendIn", campaigns::send_in_rule())]
            {
                if let Some(derived) = components.schemas.remove(name) {
                    let constrained = AllOfBuilder::new().item(derived).item(rule).build();
                    components.schemas.insert(name.into(), RefOr::T(constrained.into()));
                }
            }
        }
    }
}

/// An operation that takes an API key takes the dashboard's session cookie too; one that
/// changes state then needs the CSRF token, or gets a 403.
fn add_session_auth(operation: &mut Operation, changes_state: bool, error: &str) {
    let Some(security) = operation.security.as_mut().filter(|s| !s.is_empty()) else {
        return;
    };
    security.push(SecurityRequirement::new::<&str, [&str; 0], &str>("session", []));
    if changes_state && !operation.responses.responses.contains_key("403") {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(error))).build();
        let response = ResponseBuilder::new()
            .description(
                "Made with the session cookie from another origin, or without the session's X-CSRF-Token \
                 (`CSRF_TOKEN_INVALID`)",
            )
            .content("application/json", content);
        operation.responses.responses.insert("403".into(), RefOr::T(response.build()));
    }
}

fn add_shared_responses(operation: &mut Operation, error: &str) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let body_types: Vec<String> = operation
        .request_body
        .as_ref()
        .map(|body| body.content.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = body_types.iter().any(|t| t == "application/json");
    let mut shared = Vec::new();
    if json_body {
        shared.push(("400", "Malformed JSON (`INVALID_JSON`)"));
    }
    if !body_types.is_empty() {
        shared.push(("413", "Body larger than http.body_limit_bytes (`PAYLOAD_TOO_LARGE`)"));
        shared.push(("415", "Body without the expected Content-Type (`UNSUPPORTED_MEDIA_TYPE`)"));
    }
    if json_body {
        shared.push(("422", "Well-formed JSON of the wrong shape: a missing, mistyped or unknown field"));
    }
    if secured {
        shared.push(("401", "Missing, unknown or revoked API key (`UNAUTHORIZED`)"));
        shared.push((
            "503",
            "The database is unavailable (`DATABASE_UNAVAILABLE`); nothing was done, retry later",
        ));
    }
    shared.push(("500", "Unexpected failure (`INTERNAL_ERROR`); the cause is logged"));
    for (status, description) in shared {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(error))).build();
        let response = ResponseBuilder::new().description(description).content("application/json", content);
        operation.responses.responses.insert(status.into(), RefOr::T(response.build()));
    }
    if secured {
        super::rate_limit::document(operation, error);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn operations(document: &Value) -> impl Iterator<Item = (&String, &String, &Value)> {
        document["paths"].as_object().unwrap().iter().flat_map(|(path, item)| {
            item.as_object().unwrap().iter().map(move |(method, operation)| (path, method, operation))
        })
    }

    #[test]
    fn every_link_names_an_operation_of_the_document() {
        let document = document();
        let ids: BTreeSet<&str> =
            operations(&document).filter_map(|(_, _, op)| op["operationId"].as_str()).collect();
        let mut links = 0;
        for (path, method, operation) in operations(&document) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links += 1;
                    let target = link["operationId"].as_str();
                    assert!(
                        target.is_some_and(|t| ids.contains(t)),
                        "{method} {path} {status} {name}: {link}"
                    );
                    assert!(link.get("operation_id").is_none(), "{link}");
                }
            }
        }
        assert!(links >= 8, "{links} links");
    }

    #[test]
    fn every_operation_documents_what_the_extractors_answer() {
        let document = document();
        for (path, method, operation) in operations(&document) {
            let statuses: BTreeSet<&str> =
                operation["responses"].as_object().unwrap().keys().map(String::as_str).collect();
            if operation.get("security").is_some() {
                assert!(statuses.contains("401"), "{method} {path}: {statuses:?}");
            }
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                for status in ["413", "415"] {
                    assert!(statuses.contains(status), "{method} {path}: {statuses:?}");
                }
                if content.contains_key("application/json") {
                    assert!(
                        statuses.contains("400") && statuses.contains("422"),
                        "{method} {path}: {statuses:?}"
                    );
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "query" {
                    assert_eq!(parameter["required"], false, "{method} {path}: {parameter}");
                }
                if parameter["name"] == "Idempotency-Key" {
                    assert_eq!(parameter["schema"]["maxLength"], 255, "{parameter}");
                }
            }
        }
    }
}
