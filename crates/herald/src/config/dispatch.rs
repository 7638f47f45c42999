//! `[dispatch]`: batches, leases, retries and timeouts of the worker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ChannelLimits, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DispatchConfig {
    /// Messages claimed per batch.
    pub batch_size: u32,
    /// Provider calls in flight at once, per batch.
    pub concurrency: usize,
    /// Batches in flight at once per worker process (claim, send and commit overlap).
    pub pipelines: usize,
    /// How long a claim is valid; a worker that dies loses its claims after this.
    pub lease_secs: u64,
    /// Fallback poll when no wake-up signal arrived (e.g. for retries coming due).
    pub poll_interval_ms: u64,
    /// Retries after the first attempt before a message is `failed`.
    pub max_retries: u32,
    /// First retry waits up to this long (full jitter); it doubles per retry.
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    pub retry_cap_ms: u64,
    /// A provider call that takes longer is abandoned and retried.
    pub provider_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long sends already in flight may take to finish; what is
    /// left then is released back to `pending` for another worker.
    pub shutdown_grace_secs: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            concurrency: 256,
            pipelines: 4,
            lease_secs: 60,
            poll_interval_ms: 500,
            max_retries: 3,
            retry_base_ms: 1_000,
            retry_cap_ms: 300_000,
            provider_timeout_ms: 10_000,
            shutdown_grace_secs: 20,
        }
    }
}

impl DispatchConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    /// The retry policy of one channel: its own `max_retries` if set, else the default.
    pub fn retry_policy(&self, channel: &ChannelLimits) -> herald_domain::RetryPolicy {
        herald_domain::RetryPolicy {
            max_retries: channel.max_retries.unwrap_or(self.max_retries),
            base: Duration::from_millis(self.retry_base_ms),
            cap: Duration::from_millis(self.retry_cap_ms),
        }
    }
}

impl DispatchConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return invalid("dispatch.batch_size", "must be between 1 and 10000");
        }
        if self.concurrency == 0 {
            return invalid("dispatch.concurrency", "must be at least 1");
        }
        if self.lease_secs == 0 {
            return invalid("dispatch.lease_secs", "must be at least 1");
        }
        if self.provider_timeout_ms == 0 || self.provider_timeout_ms >= self.lease_secs * 1000 {
            return invalid(
                "dispatch.provider_timeout_ms",
                "must be at least 1 and shorter than dispatch.lease_secs",
            );
        }
        if self.pipelines == 0 || self.pipelines > 64 {
            return invalid("dispatch.pipelines", "must be between 1 and 64");
        }
        if self.poll_interval_ms == 0 {
            return invalid("dispatch.poll_interval_ms", "must be at least 1");
        }
        if self.retry_base_ms > self.retry_cap_ms {
            return invalid("dispatch.retry_base_ms", "must not exceed dispatch.retry_cap_ms");
        }
        Ok(())
    }
}
