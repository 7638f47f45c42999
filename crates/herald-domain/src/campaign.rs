//! Campaign status (the campaign brief's values) and the rule that ends a campaign.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Sending,
    Sent,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown campaign status '{0}': expected one of draft, scheduled, sending, sent, failed")]
pub struct UnknownCampaignStatus(pub String);

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 5] =
        [Self::Draft, Self::Scheduled, Self::Sending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// Whether `POST /campaigns/{id}/send` may start this campaign.
    pub fn can_send(self) -> bool {
        matches!(self, Self::Draft | Self::Scheduled)
    }

    /// The status of a `sending` campaign once none of its messages is pending or being
    /// sent: `sent` if at least one message was sent, `failed` if every one failed.
    /// `None` while messages are still on their way.
    pub fn when_done(total: u64, in_progress: u64, sent: u64) -> Option<Self> {
        if in_progress > 0 {
            return None;
        }
        Some(if sent > 0 || total == 0 { Self::Sent } else { Self::Failed })
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CampaignStatus {
    type Err = UnknownCampaignStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownCampaignStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_name() {
        for status in CampaignStatus::ALL {
            assert_eq!(status.as_str().parse::<CampaignStatus>().unwrap(), status);
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{status}\""));
        }
        assert!("done".parse::<CampaignStatus>().is_err());
    }

    #[test]
    fn only_draft_and_scheduled_campaigns_can_be_sent() {
        let sendable: Vec<_> = CampaignStatus::ALL.into_iter().filter(|s| s.can_send()).collect();
        assert_eq!(sendable, [CampaignStatus::Draft, CampaignStatus::Scheduled]);
    }

    #[test]
    fn a_campaign_ends_sent_unless_every_message_failed() {
        assert_eq!(CampaignStatus::when_done(10, 1, 9), None);
        assert_eq!(CampaignStatus::when_done(10, 0, 1), Some(CampaignStatus::Sent));
        assert_eq!(CampaignStatus::when_done(10, 0, 0), Some(CampaignStatus::Failed));
        assert_eq!(CampaignStatus::when_done(0, 0, 0), Some(CampaignStatus::Sent));
    }
}
