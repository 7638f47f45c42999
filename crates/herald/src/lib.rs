//! herald: reliable SMS and notification dispatch.
//!
//! `main.rs` parses the command line; everything else lives here. Start at [`app`], the
//! composition root, to see how the pieces fit.

pub mod amqp;
pub mod api;
pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod import;
pub mod metrics;
pub mod mock_provider;
pub mod model;
pub mod ports;
pub mod providers;
pub mod services;
pub mod store;
pub mod telemetry;
