//! Campaign status (the campaign brief's values). The rule that ends a campaign (`sent`
//! unless every message failed) and the one that starts it (only `draft` or `scheduled`)
//! live in the stores' `finish_campaigns` and `start_campaign`, in SQL, where they hold
//! atomically.

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
}
