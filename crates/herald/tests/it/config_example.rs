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

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../herald.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let (_, rest) = text.split_once("# --- begin routing example ---\n").expect("the example's start marker");
    let (block, _) = rest.split_once("# --- end routing example ---").expect("the example's end marker");
    let toml: String = block
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    let config = Config::from_figment(
        &Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(&toml)),
    )
    .expect("the routing example is valid");
    let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["primary", "backup"]);
    let routing = config.routing();
    let sms_default = routing
        .routes
        .iter()
        .find(|r| r.channel == Channel::Sms && r.prefixes.is_empty())
        .expect("a default SMS route");
    assert_eq!(sms_default.providers, ["primary", "backup"]);
    assert!(sms_default.failover_on_permanent.covers("HTTP 403: forbidden"));
    assert_ne!(sms_default.failover_on_permanent, FailoverOnPermanent::default());
}
