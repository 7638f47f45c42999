//! Records that cross the ports: what goes in, what comes out. One file per aggregate.

mod api_key;
mod campaign;
mod customer;
mod idempotency;
mod legacy_import;
mod message;
mod outbox;
mod preferences;
mod receipt;
mod template;
mod user;

pub use api_key::*;
pub use campaign::*;
pub use customer::*;
pub use idempotency::*;
pub use legacy_import::*;
pub use message::*;
pub use outbox::*;
pub use preferences::*;
pub use receipt::*;
pub use template::*;
pub use user::*;
