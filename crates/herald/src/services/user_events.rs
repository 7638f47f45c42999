//! Identity events in: herald follows the monolith's users from its `user.created`,
//! `user.updated` and `user.deleted` events (one queue, docs/amqp.md), so that it can
//! address them without being asked through the API.
//!
//! Each event carries its own `timestamp`: writes are last writer wins by it (ADR 0019),
//! so a redelivered or reordered event never undoes a later change, and applying one
//! twice is the same as once. An event is acknowledged once its write is committed (or
//! found stale); an invalid one is dead-lettered with its reason; while the database is
//! unavailable the event waits unsettled and is tried again.
//!
//! ```json
//! {"event_type": "user.updated", "user_id": 12345, "timestamp": "2026-12-05T10:00:00Z",
//!  "payload": {"email": "amina@example.com", "phone": "+254712345678", "push_tokens": [],
//!              "locale": "sw-KE", "time_zone": "Africa/Nairobi"}}
//! ```

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, UserId};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::users::{UserError, UserInput};
use crate::{
    metrics::Metrics,
    model::{UserProfile, UserWrite},
    ports::{CommandDelivery, CommandSource, CommandSourceError, Store},
};

const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Applies identity events to the contact directory.
#[derive(Clone)]
pub struct UserEvents {
    pub store: Arc<dyn Store>,
    pub account: AccountId,
    pub batch_size: usize,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for UserEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEvents").field("account", &self.account).finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct EventIn {
    event_type: String,
    user_id: serde_json::Value,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    payload: Option<ProfileIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileIn {
    email: Option<String>,
    phone: Option<String>,
    push_tokens: Option<Vec<String>>,
    locale: Option<String>,
    time_zone: Option<String>,
}

/// A valid identity event: whom it is about, what they are now (`None`: deleted), and when.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    pub user_id: UserId,
    pub profile: Option<UserProfile>,
    pub timestamp: DateTime<Utc>,
}

/// Parses an event, or says why it is not one herald can apply.
pub fn parse(payload: &[u8]) -> Result<UserEvent, String> {
    let event: EventIn = serde_json::from_slice(payload).map_err(|e| format!("not a user event: {e}"))?;
    let user_id = match &event.user_id {
        serde_json::Value::String(id) => id.clone(),
        serde_json::Value::Number(id) if id.is_u64() || id.is_i64() => id.to_string(),
        other => return Err(format!("user_id must be a string or an integer, not {other}")),
    };
    let user_id = UserId::parse(&user_id).map_err(|e| format!("user_id {e}"))?;
    let profile = match event.event_type.as_str() {
        "user.created" | "user.updated" => {
            let p = event.payload.ok_or("user.created and user.updated need a payload")?;
            let input = UserInput {
                email: p.email,
                phone: p.phone,
                push_tokens: p.push_tokens,
                locale: p.locale,
                time_zone: p.time_zone,
            };
            Some(input.parse().map_err(|e: UserError| format!("payload: {e}"))?)
        }
        "user.deleted" => None,
        other => {
            return Err(format!("unknown event_type \"{other}\" (user.created, user.updated, user.deleted)"))
        }
    };
    Ok(UserEvent { user_id, profile, timestamp: event.timestamp })
}

impl UserEvents {
    /// Applies what `source` delivers until it ends or `shutdown`.
    pub async fn consume(
        &self,
        source: &mut dyn CommandSource,
        shutdown: &CancellationToken,
    ) -> Result<(), CommandSourceError> {
        while let Some(deliveries) = source.next_batch(self.batch_size.max(1), shutdown).await? {
            let mut deliveries = deliveries.into_iter();
            while let Some(delivery) = deliveries.next() {
                if !self.handle(delivery, shutdown).await? {
                    // Shutting down: what was not applied goes back to the queue.
                    for rest in deliveries.by_ref() {
                        rest.requeue().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies and settles one event; `false` if shutdown came first (it was requeued).
    async fn handle(
        &self,
        delivery: CommandDelivery,
        shutdown: &CancellationToken,
    ) -> Result<bool, CommandSourceError> {
        let event = match parse(&delivery.payload) {
            Ok(event) => event,
            Err(reason) => {
                tracing::warn!(%reason, "user event dead-lettered");
                self.metrics.user_event("rejected");
                delivery.dead_letter(&reason).await?;
                return Ok(true);
            }
        };
        let write =
            UserWrite { user_id: &event.user_id, profile: event.profile.as_ref(), version: event.timestamp };
        let mut wait = FIRST_RETRY;
        loop {
            match self.store.write_user(self.account, &write).await {
                Ok(written) => {
                    let outcome = match written {
                        crate::model::UserWritten::Stale => "stale",
                        _ => "applied",
                    };
                    self.metrics.user_event(outcome);
                    delivery.ack().await?;
                    return Ok(true);
                }
                Err(error) => {
                    tracing::warn!(%error, "could not apply a user event; trying again");
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            delivery.requeue().await?;
                            return Ok(false);
                        }
                        () = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(MAX_RETRY);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_user_by_string_or_integer_and_carry_their_time() {
        let event = parse(
            br#"{"event_type": "user.updated", "user_id": 12345, "timestamp": "2026-12-05T10:00:00Z",
            "payload": {"email": "amina@example.com", "time_zone": "Africa/Nairobi"}}"#,
        )
        .unwrap();
        assert_eq!(event.user_id.as_str(), "12345");
        assert_eq!(event.timestamp.to_rfc3339(), "2026-12-05T10:00:00+00:00");
        assert_eq!(event.profile.unwrap().time_zone.unwrap().as_str(), "Africa/Nairobi");
        let deleted = parse(
            br#"{"event_type": "user.deleted", "user_id": "usr_1", "timestamp": "2026-12-05T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(deleted.profile, None);
    }

    #[test]
    fn invalid_events_say_why() {
        let cases: [(&[u8], &str); 6] = [
            (b"nope", "not a user event"),
            (br#"{"event_type": "user.updated", "user_id": 1, "timestamp": "2026-12-05T10:00:00Z"}"#, "need a payload"),
            (br#"{"event_type": "user.renamed", "user_id": 1, "timestamp": "2026-12-05T10:00:00Z"}"#, "unknown event_type"),
            (br#"{"event_type": "user.deleted", "user_id": 1.5, "timestamp": "2026-12-05T10:00:00Z"}"#, "user_id must be"),
            (br#"{"event_type": "user.deleted", "user_id": 1}"#, "timestamp"),
            (
                br#"{"event_type": "user.created", "user_id": 1, "timestamp": "2026-12-05T10:00:00Z", "payload": {"phone": "12"}}"#,
                "'phone'",
            ),
        ];
        for (payload, why) in cases {
            let error = parse(payload).unwrap_err();
            assert!(error.contains(why), "{}: {error}", String::from_utf8_lossy(payload));
        }
    }
}
