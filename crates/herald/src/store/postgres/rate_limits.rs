//! Shared provider rate limits: one GCRA row per provider (see `herald_domain::gcra`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::gcra::RateLimit;

use super::PgStore;
use crate::ports::{RateLimitStore, SendSlots, StoreResult};

#[async_trait]
impl RateLimitStore for PgStore {
    async fn take_send_slots(
        &self,
        provider: &str,
        limit: RateLimit,
        want: u32,
        now: DateTime<Utc>,
        horizon: std::time::Duration,
    ) -> StoreResult<SendSlots> {
        let horizon = i64::try_from(horizon.as_micros()).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        // The upsert locks the provider's row (creating it idle) and reads its state: the
        // takes of all processes queue on this row for the few statements below. Slots are
        // reckoned on the database's clock, so workers on machines whose clocks disagree
        // still share one schedule; the caller gets them on its own clock.
        let (tat, db_now): (i64, i64) = sqlx::query_as(
            "INSERT INTO provider_rate_limits (provider, tat_us) VALUES ($1, 0)
             ON CONFLICT (provider) DO UPDATE SET tat_us = provider_rate_limits.tat_us
             RETURNING tat_us, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT",
        )
        .bind(provider)
        .fetch_one(&mut *tx)
        .await?;
        let local = |us: i64| now + chrono::TimeDelta::microseconds(us.saturating_sub(db_now));
        let (slots, next_tat) = limit.take(tat, db_now, want, horizon);
        if slots.is_empty() {
            tx.rollback().await?;
            return Ok(SendSlots { slots: Vec::new(), next: local(limit.next_slot(tat, db_now)) });
        }
        sqlx::query("UPDATE provider_rate_limits SET tat_us = $2 WHERE provider = $1")
            .bind(provider)
            .bind(next_tat)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SendSlots { slots: slots.into_iter().map(local).collect(), next: now })
    }
}
