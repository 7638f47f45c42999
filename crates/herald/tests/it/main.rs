//! herald's integration tests: one binary, the real app over real HTTP, on SQLite and on
//! PostgreSQL. The provider is herald's own mock.

#![allow(clippy::print_stderr)] // a skipped service test says so loudly on stderr

mod adaptive_limits;
mod broker;
mod harness;
mod helpers;
mod http_provider;
mod memory_ports;

mod amqp;
mod amqp_dotnet;

mod api_auth;
mod api_notifications;
mod api_rate_limits;
mod api_sms;
mod bootstrap_key;
mod campaigns;
mod cli;
mod command_and_relay_logic;
mod config_example;
mod contract;
mod crash;
mod dashboard;
mod dead_letters;
mod dispatch;
mod email;
mod full_disk;
mod history;
mod idempotency;
mod import_monolith;
mod lost_leases;
mod openapi_conformance;
mod overview;
mod push;
mod rate_limits;
mod routing;
mod search;
mod sms_presets;
mod sms_receipts;
mod smtp;
mod template_sends;
mod templates;
mod user_events;
mod users;

fn main() {
    harness::main()
}
