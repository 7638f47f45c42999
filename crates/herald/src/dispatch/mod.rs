//! The dispatch engine: claims due messages, sends them, records what happened.

pub mod guard;
pub mod router;
pub mod scheduler;
pub mod worker;

pub use worker::Dispatcher;
