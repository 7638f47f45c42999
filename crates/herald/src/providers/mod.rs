//! Provider adapters: where a message leaves herald.

pub mod http;
pub mod mock;

pub use mock::MockProvider;
