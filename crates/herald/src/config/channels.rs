//! `[channels.<channel>]`: retries and a concurrency budget per channel.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Limits of one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelLimits {
    /// Retries after the first attempt for this channel's messages; unset means
    /// `dispatch.max_retries`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Sends of this channel in flight at once, per worker process (bulkhead): a slow
    /// channel cannot take every slot of the others.
    pub max_concurrency: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self { max_retries: None, max_concurrency: 1024 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelsConfig {
    pub sms: ChannelLimits,
    pub whatsapp: ChannelLimits,
    pub email: ChannelLimits,
    pub push: ChannelLimits,
}

impl ChannelsConfig {
    pub fn get(&self, channel: herald_domain::Channel) -> &ChannelLimits {
        use herald_domain::Channel;
        match channel {
            Channel::Sms => &self.sms,
            Channel::Whatsapp => &self.whatsapp,
            Channel::Email => &self.email,
            Channel::Push => &self.push,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &ChannelLimits)> {
        [("sms", &self.sms), ("whatsapp", &self.whatsapp), ("email", &self.email), ("push", &self.push)]
            .into_iter()
    }
}

impl ChannelsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, channel) in self.iter() {
            if channel.max_concurrency == 0 {
                return Err(ConfigError::Invalid {
                    key: "channels.<channel>.max_concurrency",
                    reason: format!("must be at least 1 (channels.{name})"),
                });
            }
        }
        Ok(())
    }

    /// The smallest concurrency budget of any channel.
    pub(super) fn narrowest_concurrency(&self) -> usize {
        self.iter().map(|(_, c)| c.max_concurrency).min().unwrap_or(1)
    }
}
