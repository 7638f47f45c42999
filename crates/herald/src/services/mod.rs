//! Application services: herald's use cases, written against the ports only.

pub mod api_keys;
pub mod campaigns;
pub mod commands;
pub mod compose;
pub mod customer_csv;
pub mod customers;
pub mod dead_letters;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod intake;
pub mod json;
pub mod messages;
pub mod overview;
pub mod receipts;
pub mod relay;
pub mod seed;
pub mod send_sms;
pub mod templates;
pub mod user_events;
pub mod users;
