//! The OpenAPI document, generated from the handlers and their types.

use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use super::{campaigns, customers, dead_letters, error, events, health, metrics, notifications, sms};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "herald",
        description = "Reliable SMS and notification dispatch. Every endpoint except health, \
                       metrics and docs needs an API key, as `X-API-Key` or `Authorization: Bearer`."
    ),
    paths(
        sms::send_sms,
        notifications::send_notification,
        notifications::get_notification,
        events::list_events,
        dead_letters::list_dead_letters,
        dead_letters::replay_dead_letters,
        dead_letters::replay_dead_letter,
        campaigns::create_campaign,
        campaigns::list_campaigns,
        campaigns::get_campaign,
        campaigns::preview,
        campaigns::send_campaign,
        customers::create_customer,
        customers::list_customers,
        customers::get_customer,
        customers::import_customers,
        customers::update_customer,
        customers::delete_customer,
        health::health,
        health::live,
        health::ready,
        health::startup,
        metrics::metrics,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "sms-processor", description = "The sms-processor compatible endpoint"),
        (name = "notifications", description = "Send notifications and follow them"),
        (name = "events", description = "The event feed (transactional outbox)"),
        (name = "dead-letters", description = "Failed messages and their replay"),
        (name = "campaigns", description = "Campaigns (the campaign brief's paths; also under /api/v1/campaigns)"),
        (name = "customers", description = "The people campaigns are sent to"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

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
    }
}
