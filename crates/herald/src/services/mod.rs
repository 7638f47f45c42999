//! Application services: herald's use cases, written against the ports only.

pub mod api_keys;
pub mod commands;
pub mod dead_letters;
pub mod events;
pub mod idempotency;
pub mod intake;
pub mod relay;
pub mod seed;
pub mod send_sms;
