//! `herald.example.toml` stays loadable and in step with the defaults it documents.

use figment::{
    providers::{Format, Serialized, Toml},
    Figment,
};
use herald::config::Config;

#[crate::harness::test]
fn the_example_config_loads_and_matches_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../herald.example.toml");
    let example = Config::from_figment(
        &Figment::from(Serialized::defaults(Config::default())).merge(Toml::file_exact(path)),
    )
    .expect("herald.example.toml is valid");
    let defaults = Config::default();
    assert_eq!(
        serde_json::to_value(&example).unwrap(),
        serde_json::to_value(&defaults).unwrap(),
        "herald.example.toml documents a value that is not the default"
    );
}

/// The commented two-provider SMS route in herald.example.toml is valid as written.
#[crate::harness::test]
fn the_example_routing_section_loads_as_a_two_provider_route_with_failover() {
    use herald::config::FailoverOnPermanent;
    use herald_domain::Channel;

    let config = example_block("routing example");
    let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["primary", "backup"]);
    let routing = config.routing();
    let sms_default = routing
        .routes
        .iter()
        .find(|r| r.channel == Channel::Sms && r.prefixes.is_empty())
        .expect("a default SMS route");
    assert_eq!(sms_default.providers, ["primary", "backup"]);
    assert!(!sms_default.smart_encoding);
    let kenya = routing.route_for(Channel::Sms, "+254712345678").expect("the Kenyan route");
    assert!(kenya.smart_encoding);
    assert_eq!(kenya.sender.as_deref(), Some("ACME"));
    assert!(sms_default.failover_on_permanent.covers("HTTP 403: forbidden"));
    assert_ne!(sms_default.failover_on_permanent, FailoverOnPermanent::default());
}

/// The commented example between `# --- begin {name} ---` and `# --- end {name} ---` in
/// herald.example.toml, uncommented and loaded over the defaults.
fn example_block(name: &str) -> Config {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../herald.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let (_, rest) =
        text.split_once(&format!("# --- begin {name} ---\n")).expect("the example's start marker");
    let (block, _) = rest.split_once(&format!("# --- end {name} ---")).expect("the example's end marker");
    let toml: String = block
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    Config::from_figment(&Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(&toml)))
        .unwrap_or_else(|e| panic!("the {name} is valid: {e}"))
}

/// The commented SMTP and FCM providers in herald.example.toml are valid as written.
#[crate::harness::test]
fn the_example_email_and_push_providers_load() {
    use herald::config::{ProviderKind, SmtpTls};
    use herald_domain::Channel;

    let config = example_block("email and push example");
    let [smtp, fcm] = config.providers.as_slice() else { panic!("two providers") };
    assert_eq!((smtp.kind, smtp.channels.as_slice()), (ProviderKind::Smtp, [Channel::Email].as_slice()));
    assert_eq!((smtp.smtp.tls, smtp.smtp.port()), (SmtpTls::Starttls, 587));
    assert_eq!((fcm.kind, fcm.channels.as_slice()), (ProviderKind::Fcm, [Channel::Push].as_slice()));
    assert_eq!(fcm.fcm.endpoint, herald::config::FCM_ENDPOINT);
    let routing = config.routing();
    let email = routing.routes.iter().find(|r| r.channel == Channel::Email).expect("an email route");
    assert_eq!(email.providers, ["relay"]);
}

/// The commented SMS API presets in herald.example.toml are valid as written.
#[crate::harness::test]
fn the_example_sms_api_presets_load() {
    use herald::config::{ProviderKind, VonageSignatureMethod};
    use herald_domain::Channel;

    let config = example_block("sms api example");
    let kinds: Vec<ProviderKind> = config.providers.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [ProviderKind::Twilio, ProviderKind::Africastalking, ProviderKind::Vonage, ProviderKind::Infobip]
    );
    assert!(config.providers.iter().all(|p| p.channels == [Channel::Sms]));
    assert_eq!(config.providers[2].vonage.signature_method, VonageSignatureMethod::Sha256);
    let routing = config.routing();
    let tanzania = routing.route_for(Channel::Sms, "+255712345678").expect("the East African route");
    assert_eq!(tanzania.providers, ["africastalking", "infobip"]);
    let default = routing.route_for(Channel::Sms, "+31612345678").expect("the default route");
    assert!(default.failover_on_permanent.covers("Twilio 20003 (HTTP 401): Authenticate"));
}
