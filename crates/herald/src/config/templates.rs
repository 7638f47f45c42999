//! `[templates]`: the template cache of the send path.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplatesConfig {
    /// How long a resolved template is kept in a process's cache. A change made through
    /// this process is seen at once; one made through another API process within this
    /// many seconds. 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// Templates kept at most (least recently used ones go first).
    pub cache_capacity: u64,
}

impl Default for TemplatesConfig {
    fn default() -> Self {
        Self { cache_ttl_secs: 10, cache_capacity: 10_000 }
    }
}

impl TemplatesConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.cache_ttl_secs > 3_600 {
            return invalid("templates.cache_ttl_secs", "must be at most 3600");
        }
        if self.cache_capacity == 0 {
            return invalid("templates.cache_capacity", "must be at least 1");
        }
        Ok(())
    }
}
