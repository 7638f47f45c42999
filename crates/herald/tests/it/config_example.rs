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
