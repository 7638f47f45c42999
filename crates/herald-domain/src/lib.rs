//! herald's domain: the value types every message is made of, and the pure rules that
//! govern them (status transitions, retry schedule, masking). No I/O lives here: no tokio,
//! no database, no HTTP. Everything is parsed at the boundary into these types, so code
//! downstream never re-validates.

pub mod adaptive;
pub mod body;
pub mod breaker;
pub mod campaign;
pub mod channel;
pub mod content;
pub mod gcra;
pub mod ids;
pub mod mask;
pub mod phone;
pub mod quiet_hours;
pub mod recipient;
pub mod retry;
pub mod sender;
pub mod sms_encoding;
#[cfg(feature = "sqlx")]
pub mod sql;
pub mod status;
pub mod template;
pub mod user;

pub use body::MessageBody;
pub use campaign::CampaignStatus;
pub use channel::Channel;
pub use content::{ContentError, HtmlBody, PushData, Subject};
pub use ids::{AccountId, ApiKeyId, CampaignId, CustomerId, EventId, MessageId, TemplateId};
pub use phone::PhoneNumber;
pub use quiet_hours::{QuietHours, QuietHoursError};
pub use recipient::{EmailAddress, PushToken, Recipient, RecipientError};
pub use retry::RetryPolicy;
pub use sender::SenderId;
pub use sms_encoding::{smart_encode, sms_length, SmsEncoding, SmsLength};
pub use status::MessageStatus;
pub use template::Template;
pub use user::{Locale, TimeZone, UserError, UserId};
