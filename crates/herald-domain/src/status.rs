//! A message's life cycle and which moves in it are legal.
//!
//! ```text
//! pending ──claim──► sending ──ok──► sent ──receipt──► delivered | undelivered
//!    ▲                  │  └─────permanent / out of retries──► failed ──replay──► pending
//!    └────retry / lease expired / released──┘
//! pending ──► cancelled | suppressed
//! scheduled ──due──► sending          scheduled ──► cancelled
//! sent | delivered ──client──► read
//! ```

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Stored, waiting for its `next_attempt_at`.
    Pending,
    /// Stored, held back on purpose until its `next_attempt_at` (a `send_at`, or the end of
    /// the recipient's quiet hours); then sent like a pending message.
    Scheduled,
    /// Claimed by a worker under a lease; a provider call may be in flight.
    Sending,
    /// The provider accepted it.
    Sent,
    /// The provider reported delivery to the handset (or the client said so).
    Delivered,
    /// The client reported that the user read it.
    Read,
    /// The provider accepted it, then reported that the network could not deliver it.
    Undelivered,
    /// Permanently failed, or out of retries: a dead letter.
    Failed,
    /// Withdrawn before it was sent.
    Cancelled,
    /// Not sent on purpose (preferences, opt-out).
    Suppressed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message status '{0}'")]
pub struct UnknownStatus(pub String);

impl MessageStatus {
    pub const ALL: [MessageStatus; 10] = [
        Self::Pending,
        Self::Scheduled,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Undelivered,
        Self::Failed,
        Self::Cancelled,
        Self::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Suppressed => "suppressed",
        }
    }

    /// A terminal message will not be sent again unless someone replays it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Sent
                | Self::Delivered
                | Self::Read
                | Self::Undelivered
                | Self::Failed
                | Self::Cancelled
                | Self::Suppressed
        )
    }

    pub fn can_transition_to(self, next: Self) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (Pending | Scheduled, Sending | Cancelled | Suppressed)
                | (Sending, Sent | Failed | Pending)
                | (Sent, Delivered | Undelivered | Failed | Read)
                | (Delivered, Read)
                | (Failed, Pending)
        )
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_is_legal() {
        assert!(Pending.can_transition_to(Sending));
        assert!(Sending.can_transition_to(Sent));
        assert!(Sent.can_transition_to(Delivered));
    }

    #[test]
    fn a_receipt_ends_a_sent_message_delivered_or_undelivered_once() {
        assert!(Sent.can_transition_to(Undelivered));
        assert!(!Delivered.can_transition_to(Undelivered));
        assert!(!Undelivered.can_transition_to(Delivered));
        assert!(!Pending.can_transition_to(Delivered));
    }

    #[test]
    fn a_scheduled_message_is_sent_or_cancelled_like_a_pending_one() {
        assert!(Scheduled.can_transition_to(Sending));
        assert!(Scheduled.can_transition_to(Cancelled));
        assert!(!Scheduled.can_transition_to(Sent));
        assert!(!Scheduled.is_terminal());
    }

    #[test]
    fn clients_report_what_herald_cannot_see() {
        assert!(Sent.can_transition_to(Read));
        assert!(Delivered.can_transition_to(Read));
        assert!(!Read.can_transition_to(Delivered));
        assert!(!Pending.can_transition_to(Read));
        assert!(Read.is_terminal());
    }

    #[test]
    fn a_failed_attempt_goes_back_to_pending_or_ends_failed() {
        assert!(Sending.can_transition_to(Pending));
        assert!(Sending.can_transition_to(Failed));
        assert!(Failed.can_transition_to(Pending), "replay of a dead letter");
    }

    #[test]
    fn nothing_skips_the_claim_or_leaves_a_final_success() {
        assert!(!Pending.can_transition_to(Sent));
        assert!(!Sent.can_transition_to(Pending));
        assert!(!Delivered.can_transition_to(Sending));
        assert!(!Cancelled.can_transition_to(Pending));
        for status in MessageStatus::ALL {
            assert!(!status.can_transition_to(status), "{status} -> itself");
        }
    }

    #[test]
    fn only_pending_scheduled_and_sending_are_not_terminal() {
        let open: Vec<_> = MessageStatus::ALL.into_iter().filter(|s| !s.is_terminal()).collect();
        assert_eq!(open, vec![Pending, Scheduled, Sending]);
    }

    #[test]
    fn round_trips_through_its_name() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>().unwrap(), status);
        }
    }
}
