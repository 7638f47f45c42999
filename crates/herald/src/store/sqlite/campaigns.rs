//! Customers and campaigns.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, CampaignStatus, CustomerId};
use sqlx::Row;

use super::{to_millis, SqliteStore};
use crate::store::queries;
use crate::store::rows as from_row;
use crate::{
    model::{CampaignStart, Customer, IdempotencyClaim, RenderedMessage, StartOutcome},
    ports::StoreResult,
    store::parse_column,
};

pub(in crate::store) async fn start_campaign(
    store: &SqliteStore,
    start: &CampaignStart,
) -> StoreResult<StartOutcome> {
    let mut tx = store.pool.begin().await?;
    if let Some(taken) = claim_start_key(&mut tx, start).await? {
        return Ok(taken);
    }
    // Conditional: a campaign that is not draft/scheduled, or already has messages
    // (a scheduled one sent before), is not started twice.
    let started = sqlx::query(
        "UPDATE campaigns SET status = ?1, updated_at = ?2
         WHERE id = ?3 AND account_id = ?4 AND status IN ('draft', 'scheduled')
           AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = ?3)
         RETURNING channel",
    )
    .bind(start.status)
    .bind(to_millis(start.now))
    .bind(start.campaign_id)
    .bind(start.account_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(started) = started else {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM campaigns WHERE id = ? AND account_id = ?")
                .bind(start.campaign_id)
                .bind(start.account_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        return Ok(match status {
            None => StartOutcome::NotFound,
            Some(status) => StartOutcome::NotSendable(parse_column("campaigns.status", &status)?),
        });
    };
    let channel: String = started.try_get("channel")?;
    let recipients: Vec<serde_json::Value> = start
        .recipients
        .iter()
        .map(|(customer, message)| serde_json::json!({"c": customer, "m": message.to_string()}))
        .collect();
    let recipients = serde_json::Value::Array(recipients).to_string();
    let unknown: Vec<CustomerId> = sqlx::query_scalar(
        "SELECT value ->> 'c' FROM json_each(?1)
         WHERE NOT EXISTS (SELECT 1 FROM customers WHERE id = value ->> 'c' AND account_id = ?2)
         ORDER BY key",
    )
    .bind(&recipients)
    .bind(start.account_id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    if !unknown.is_empty() {
        tx.rollback().await?;
        return Ok(StartOutcome::UnknownCustomers(unknown));
    }
    sqlx::query(
        "INSERT INTO messages (id, account_id, channel, recipient, sender, body, status,
                               next_attempt_at, created_at, updated_at, campaign_id, customer_id)
         SELECT r.value ->> 'm', ?2, ?3, c.phone, ?4, '', 'pending', ?5, ?6, ?6, ?7, c.id
         FROM json_each(?1) AS r JOIN customers AS c ON c.id = r.value ->> 'c'
         ORDER BY r.key",
    )
    .bind(&recipients)
    .bind(start.account_id.to_string())
    .bind(&channel)
    .bind(&start.sender)
    .bind(to_millis(start.due_at))
    .bind(to_millis(start.now))
    .bind(start.campaign_id)
    .execute(&mut *tx)
    .await?;
    if let Some(response) = &start.idempotency {
        queries::sqlite::complete_key(&mut tx, start.account_id, None, response).await?;
    }
    tx.commit().await?;
    Ok(StartOutcome::Started)
}

pub(in crate::store) async fn render_inputs(
    store: &SqliteStore,
    campaigns: &[CampaignId],
    customers: &[CustomerId],
) -> StoreResult<(HashMap<CampaignId, String>, HashMap<CustomerId, Customer>)> {
    let campaigns_json = serde_json::to_string(campaigns).unwrap_or_else(|_| "[]".into());
    let customers_json = serde_json::to_string(customers).unwrap_or_else(|_| "[]".into());
    let templates: Vec<(CampaignId, String)> = sqlx::query_as(
        "SELECT id, base_template FROM campaigns WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(campaigns_json)
    .fetch_all(&store.pool)
    .await?;
    let rows = sqlx::query("SELECT * FROM customers WHERE id IN (SELECT value FROM json_each(?))")
        .bind(customers_json)
        .fetch_all(&store.pool)
        .await?;
    let customers = rows
        .iter()
        .map(|row| from_row::customer(row).map(|c| (c.id, c)))
        .collect::<StoreResult<HashMap<_, _>>>()?;
    Ok((templates.into_iter().collect(), customers))
}

pub(in crate::store) async fn save_rendered(
    store: &SqliteStore,
    rendered: &[RenderedMessage],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if rendered.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = rendered
        .iter()
        .map(|message| {
            serde_json::json!({"id": message.id.to_string(), "body": message.body,
                               "segments": message.segments, "sender": message.sender})
        })
        .collect();
    sqlx::query(
        "UPDATE messages SET body = r.body, segments = r.segments,
                sender = COALESCE(r.sender, messages.sender), updated_at = ?2
         FROM (SELECT value ->> 'id' AS id, value ->> 'body' AS body, value ->> 'segments' AS segments,
                      value ->> 'sender' AS sender
               FROM json_each(?1)) AS r
         WHERE messages.id = r.id",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(to_millis(at))
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(in crate::store) async fn finish_campaigns(
    store: &SqliteStore,
    campaigns: &[CampaignId],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if campaigns.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE campaigns SET updated_at = ?2,
                status = CASE WHEN EXISTS (SELECT 1 FROM messages
                                           WHERE campaign_id = campaigns.id
                                             AND status IN ('sent', 'delivered', 'read', 'undelivered'))
                              THEN 'sent' ELSE 'failed' END
         WHERE id IN (SELECT value FROM json_each(?1))
           AND status IN ('sending', 'scheduled')
           AND (scheduled_at IS NULL OR scheduled_at <= ?2)
           AND EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id)
           AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id
                                                  AND status IN ('pending', 'sending'))",
    )
    .bind(serde_json::to_string(campaigns).unwrap_or_else(|_| "[]".into()))
    .bind(to_millis(now))
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(in crate::store) async fn due_campaigns(
    store: &SqliteStore,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<(CampaignId, AccountId, bool)>> {
    let rows = sqlx::query(
        "SELECT id, account_id, EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id) AS started
         FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at LIMIT ?",
    )
    .bind(to_millis(now))
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("id")?,
                parse_column("campaigns.account_id", &row.try_get::<String, _>("account_id")?)?,
                row.try_get::<bool, _>("started")?,
            ))
        })
        .collect()
}

pub(in crate::store) async fn set_campaign_status(
    store: &SqliteStore,
    campaign: CampaignId,
    from: &[CampaignStatus],
    to: CampaignStatus,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let moved = sqlx::query(
        "UPDATE campaigns SET status = ?1, updated_at = ?2
         WHERE id = ?3 AND status IN (SELECT value FROM json_each(?4))",
    )
    .bind(to.as_str())
    .bind(to_millis(now))
    .bind(campaign)
    .bind(serde_json::to_string(&from.iter().map(|s| s.as_str()).collect::<Vec<_>>()).unwrap_or_default())
    .execute(&store.pool)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Claims a start's idempotency key first thing in its transaction: `Some` (the key's
/// state) when it is another request's, and the start must not go ahead.
async fn claim_start_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    start: &CampaignStart,
) -> StoreResult<Option<StartOutcome>> {
    let (Some(response), Some(claim)) = (&start.idempotency, &start.claim) else {
        return Ok(None);
    };
    match queries::sqlite::claim_key(tx, start.account_id, &response.key, claim).await? {
        IdempotencyClaim::Acquired => Ok(None),
        taken => Ok(Some(StartOutcome::KeyTaken(taken))),
    }
}
