//! herald's integration tests: one binary, the real app over real HTTP, on SQLite and on
//! PostgreSQL. The provider is herald's own mock.

#![allow(clippy::print_stderr)] // a skipped service test says so loudly on stderr

mod broker;
mod helpers;
mod http_provider;

mod amqp;

mod api_auth;
mod api_notifications;
mod api_sms;
mod campaigns;
mod cli;
mod config_example;
mod crash;
mod dead_letters;
mod dispatch;
mod idempotency;
mod openapi_conformance;
mod store_contract;
